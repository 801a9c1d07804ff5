import { CqrsError, type CqrsMessage, type RevisionVerdict, type Subscription, type Transport, type TransportAdmin } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { isLostConnection } from '../../../internal/pg/database-errors.js';
import { ReplicaApplier } from './replica-applier.js';
import { checkReplicaSchema } from './schema-check.js';
import { checkEntityManager } from '../../extension/arguments.js';

const warnOutage = (error: Error, retryInMs: number) =>
  console.warn(`entity-sync: the replica database cannot be reached (${error.message}); holding the messages, retrying in ${retryInMs} ms`);
const warnFallback = (error: Error, messages: number) =>
  console.warn(`entity-sync: a batch of ${messages} messages failed together (${error.message}); applying them one by one`);

/** Options of a `ReplicaConsumer`. */
export interface ReplicaConsumerOptions {
  /** The replica service's queue. */
  queue: string;
  /** Competing consumers on the queue. Default 1. */
  workers?: number;
  /**
   * Most messages one transaction applies when several are waiting (they arrive together when
   * the transport hands over several at once, e.g. RabbitMQ with `concurrency`). Default 200.
   */
  maxBatch?: number;
  /** Called after each message with what the revision guard decided (or the error it failed with). */
  onMessage?: (message: CqrsMessage, outcome: RevisionVerdict | Error) => void;
  /**
   * Told when the replica's database cannot be reached. That is no message's fault: the consumer
   * holds the messages it has, waits with a bounded backoff (100 ms doubling to 5 s), and applies
   * them once the database answers, spending none of their retry attempts. Default: a warning on stderr.
   */
  onOutage?: (error: Error, retryInMs: number) => void;
  /** Told when a batch failed and its messages are applied one by one. Default: a warning on stderr. */
  onFallback?: (error: Error, messages: number) => void;
}

/** Counters of a consumer since it started. */
export interface ConsumerStats {
  applied: number;
  /** Applied after skipped revisions (counted in `applied` too). */
  gaps: number;
  duplicates: number;
  stale: number;
  failed: number;
  /** Waits for the replica's database to come back. */
  outages: number;
  /** Batches applied one by one after failing together. */
  fallbacks: number;
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
  private readonly counts = { applied: 0, gaps: 0, duplicates: 0, stale: 0, failed: 0, outages: 0, fallbacks: 0 };
  private stopping = false;
  private lags: number[] = [];
  private startedAt = 0;

  constructor(private readonly em: EntityManager, private readonly transport: Transport, private readonly options: ReplicaConsumerOptions) {
    checkEntityManager('ReplicaConsumer', em, "new ReplicaConsumer(orm.em.fork(), transport, { queue: 'search' })");
    this.applier = new ReplicaApplier(em);
  }

  /** The CQRS ids the queue is bound to (every `@Replica` of the ORM). */
  get cqrsIds(): string[] {
    return this.applier.cqrsIds;
  }

  /**
   * Checks the replica's schema (`CQRS_NOT_INSTALLED`, `CQRS_SCHEMA_MISMATCH`) and, where the
   * transport can tell (`TransportAdmin.cqrsIdsOf`), that the queue receives no CQRS id this ORM
   * has no `@Replica` for (`CQRS_UNKNOWN_ID`), then subscribes every worker.
   */
  async start(): Promise<void> {
    await checkReplicaSchema(this.em);
    await this.checkQueueIds();
    this.startedAt = performance.now();
    for (let worker = 0; worker < Math.max(1, this.options.workers ?? 1); worker++) {
      this.subscriptions.push(await this.transport.subscribe(this.options.queue, this.applier.cqrsIds, this.batcher()));
    }
  }

  // Messages of an id without a @Replica here would each be dead-lettered: refused before the first.
  private async checkQueueIds(): Promise<void> {
    const listed = await (this.transport as Transport & TransportAdmin).cqrsIdsOf?.(this.options.queue);
    const own = new Set(this.applier.cqrsIds);
    const unknown = (listed ?? []).filter((id) => !own.has(id));
    if (!unknown.length) return;
    throw CqrsError.queueBoundToUnknownIds(this.options.queue, unknown, [...own]);
  }

  // Runs `work` until it does not fail for want of the database: a lost connection is waited out
  // (the messages stay with this consumer), any other failure is the message's, for the transport to retry.
  private async patiently<T>(work: () => Promise<T>): Promise<T> {
    for (let outage = 1; ; outage++) {
      try {
        return await work();
      } catch (error) {
        if (this.stopping || !isLostConnection(error)) throw error;
        const retryInMs = Math.min(5000, 100 * 2 ** (outage - 1));
        this.counts.outages += 1;
        (this.options.onOutage ?? warnOutage)(error as Error, retryInMs);
        await new Promise((resolve) => setTimeout(resolve, retryInMs));
      }
    }
  }

  // Group commit: while one transaction applies, the messages that arrive wait and then go
  // together in the next one; one message alone takes the single-message path. When a batch
  // fails, its messages are applied one by one, so that only the failing one is retried.
  private batcher(): (message: CqrsMessage) => Promise<void> {
    type Waiting = { message: CqrsMessage; resolve: () => void; reject: (error: unknown) => void };
    const waiting: Waiting[] = [];
    let busy = false;
    const one = async ({ message, resolve, reject }: Waiting) => {
      try {
        this.record(message, await this.patiently(() => this.applier.apply(message)));
        resolve();
      } catch (error) {
        this.record(message, error as Error);
        reject(error);
      }
    };
    const run = async () => {
      if (busy || waiting.length === 0) return;
      busy = true;
      const batch = waiting.splice(0, this.options.maxBatch ?? 200);
      try {
        if (batch.length === 1) await one(batch[0]!);
        else {
          let verdicts: RevisionVerdict[] | undefined;
          try {
            verdicts = await this.patiently(() => this.applier.applyMany(batch.map((entry) => entry.message)));
          } catch (error) {
            this.counts.fallbacks += 1;
            (this.options.onFallback ?? warnFallback)(error as Error, batch.length);
            for (const entry of batch) await one(entry);
          }
          verdicts?.forEach((verdict, i) => {
            this.record(batch[i]!.message, verdict);
            batch[i]!.resolve();
          });
        }
      } finally {
        busy = false;
        void run();
      }
    };
    return (message) => new Promise<void>((resolve, reject) => {
      waiting.push({ message, resolve, reject });
      void run();
    });
  }

  private record(message: CqrsMessage, outcome: RevisionVerdict | Error): void {
    if (outcome instanceof Error) this.counts.failed += 1;
    else if (outcome === 'duplicate' || outcome === 'stale') this.counts[outcome === 'duplicate' ? 'duplicates' : 'stale'] += 1;
    else {
      this.counts.applied += 1;
      if (outcome === 'gap') this.counts.gaps += 1;
      this.lags.push(Date.now() - Date.parse(message.createdAt));
    }
    this.options.onMessage?.(message, outcome);
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
    this.stopping = true;
    await Promise.all(this.subscriptions.splice(0).map((subscription) => subscription.stop()));
  }
}
