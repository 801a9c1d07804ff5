import { installReplica, ReplicaApplier } from '@entity-sync/adapters/mikro-orm';
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import type { CqrsMessage, RevisionVerdict, Subscription } from '@entity-sync/core';
import type { Orm } from './orm.js';

/** Options of `ReplicaConsumer.start`. */
export interface ReplicaConsumerOptions {
  amqpUrl: string;
  queue: string;
  /** Unacknowledged messages the broker hands the consumer at once. */
  prefetch: number;
  /** Messages applied at once (each in its own transaction). */
  concurrency: number;
  /** Called after each message's apply transaction committed. */
  onApplied?: (message: CqrsMessage, verdict: RevisionVerdict) => void;
}

/**
 * The replica service: `RabbitMqTransport.subscribe` feeding `ReplicaApplier.apply`. Each message
 * gets an applier on a fresh fork: one applier kept for the consumer's life slows down with every
 * message it applied (see the NOTE the bench prints), which is not what is measured here.
 */
export class ReplicaConsumer {
  /** Messages applied so far, and the revision guard's verdicts. */
  applied = 0;
  readonly verdicts: Partial<Record<RevisionVerdict, number>> = {};
  /** Applies that threw (the transport retries them later), and the first error. */
  failures = 0;
  firstError: unknown;

  private constructor(private readonly transport: RabbitMqTransport, private subscription?: Subscription) {}

  static async start(replica: Orm, options: ReplicaConsumerOptions): Promise<ReplicaConsumer> {
    await installReplica(replica.em.fork());
    const cqrsIds = new ReplicaApplier(replica.em.fork()).cqrsIds;
    const transport = new RabbitMqTransport({ url: options.amqpUrl, prefetch: options.prefetch, concurrency: options.concurrency });
    const consumer = new ReplicaConsumer(transport);
    consumer.subscription = await transport.subscribe(options.queue, cqrsIds, async (message) => {
      let verdict: RevisionVerdict;
      try {
        verdict = await new ReplicaApplier(replica.em.fork()).apply(message);
      } catch (error) {
        consumer.failures += 1;
        consumer.firstError ??= error;
        throw error;
      }
      consumer.applied += 1;
      consumer.verdicts[verdict] = (consumer.verdicts[verdict] ?? 0) + 1;
      options.onApplied?.(message, verdict);
    });
    return consumer;
  }

  /** Resolves once `count` messages were applied, or when none was applied for `stallMs`. */
  async waitFor(count: number, stallMs = 10_000): Promise<void> {
    let seen = this.applied;
    let since = Date.now();
    while (this.applied < count && Date.now() - since < stallMs) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (this.applied !== seen) [seen, since] = [this.applied, Date.now()];
    }
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    await this.transport.close();
  }
}
