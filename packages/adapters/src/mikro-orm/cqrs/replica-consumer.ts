import type { CqrsMessage, RevisionVerdict, Subscription, Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { ReplicaApplier } from './replica-applier.js';

/** Options of a `ReplicaConsumer`. */
export interface ReplicaConsumerOptions {
  /** The replica service's queue. */
  queue: string;
  /** Competing consumers on the queue. Default 1. */
  workers?: number;
  /** Called after each message with what the revision guard decided (or the error it failed with). */
  onMessage?: (message: CqrsMessage, outcome: RevisionVerdict | Error) => void;
}

/** Counters of a consumer since it started. */
export interface ConsumerStats {
  applied: number;
  /** Applied after skipped revisions (counted in `applied` too). */
  gaps: number;
  duplicates: number;
  stale: number;
  failed: number;
  /** Messages handled per second since start. */
  perSecond: number;
  /** Commit-to-applied delay of the messages handled in the last report window, in ms. */
  lagP50Ms: number | null;
  lagP99Ms: number | null;
}

/**
 * Runs `workers` consumers of one queue that apply messages to this ORM's `@Replica` entities.
 * `stop()` stops taking messages, lets those being applied finish, and returns the rest to the
 * transport (a consumer killed instead leaves its message unacknowledged: the broker delivers it
 * again, and the revision guard makes the second delivery harmless).
 */
export class ReplicaConsumer {
  private readonly applier: ReplicaApplier;
  private readonly subscriptions: Subscription[] = [];
  private readonly counts = { applied: 0, gaps: 0, duplicates: 0, stale: 0, failed: 0 };
  private lags: number[] = [];
  private startedAt = 0;

  constructor(em: EntityManager, private readonly transport: Transport, private readonly options: ReplicaConsumerOptions) {
    this.applier = new ReplicaApplier(em);
  }

  /** The CQRS ids the queue is bound to (every `@Replica` of the ORM). */
  get cqrsIds(): string[] {
    return this.applier.cqrsIds;
  }

  async start(): Promise<void> {
    this.startedAt = performance.now();
    for (let worker = 0; worker < Math.max(1, this.options.workers ?? 1); worker++) {
      this.subscriptions.push(await this.transport.subscribe(this.options.queue, this.applier.cqrsIds, (message) => this.handle(message)));
    }
  }

  private async handle(message: CqrsMessage): Promise<void> {
    try {
      const verdict = await this.applier.apply(message);
      if (verdict === 'duplicate' || verdict === 'stale') this.counts[verdict === 'duplicate' ? 'duplicates' : 'stale'] += 1;
      else {
        this.counts.applied += 1;
        if (verdict === 'gap') this.counts.gaps += 1;
      }
      this.lags.push(Date.now() - Date.parse(message.createdAt));
      this.options.onMessage?.(message, verdict);
    } catch (error) {
      this.counts.failed += 1;
      this.options.onMessage?.(message, error as Error);
      throw error;
    }
  }

  /** Counters since start; the lag figures cover the messages since the previous call. */
  stats(): ConsumerStats {
    const lags = this.lags.sort((a, b) => a - b);
    this.lags = [];
    const at = (q: number) => (lags.length ? lags[Math.min(lags.length - 1, Math.floor(q * lags.length))]! : null);
    const handled = this.counts.applied + this.counts.duplicates + this.counts.stale + this.counts.failed;
    const seconds = (performance.now() - this.startedAt) / 1000;
    return { ...this.counts, perSecond: seconds > 0 ? handled / seconds : 0, lagP50Ms: at(0.5), lagP99Ms: at(0.99) };
  }

  /** Stops every worker; in-flight messages finish, prefetched ones go back to the queue. */
  async stop(): Promise<void> {
    await Promise.all(this.subscriptions.splice(0).map((subscription) => subscription.stop()));
  }
}
