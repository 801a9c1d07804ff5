import { installReplica, ReplicaConsumer as Consumer } from '@entity-sync/adapters/mikro-orm';
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import type { CqrsMessage, RevisionVerdict } from '@entity-sync/core';
import type { Orm } from './orm.js';

/** Options of `ReplicaConsumer.start`. */
export interface ReplicaConsumerOptions {
  amqpUrl: string;
  queue: string;
  /** Unacknowledged messages the broker hands the consumer at once. */
  prefetch: number;
  /** Deliveries in flight at once; those waiting while a transaction applies go together in the next one. */
  concurrency: number;
  /** Called after each message's apply transaction committed. */
  onApplied?: (message: CqrsMessage, verdict: RevisionVerdict) => void;
}

/** The replica service as an app runs it: entity-sync's `ReplicaConsumer` on `RabbitMqTransport`. */
export class ReplicaConsumer {
  /** Messages applied so far, and the revision guard's verdicts. */
  applied = 0;
  readonly verdicts: Partial<Record<RevisionVerdict, number>> = {};
  /** Applies that threw (the transport retries them later), and the first error. */
  failures = 0;
  firstError: unknown;
  /** Batches that failed together and were applied one by one (counted, not printed). */
  fallbacks = 0;

  private consumer: Consumer | undefined;

  private constructor(private readonly transport: RabbitMqTransport) {}

  static async start(replica: Orm, options: ReplicaConsumerOptions): Promise<ReplicaConsumer> {
    await installReplica(replica.em.fork());
    const transport = new RabbitMqTransport({ url: options.amqpUrl, prefetch: options.prefetch, concurrency: options.concurrency });
    const bench = new ReplicaConsumer(transport);
    bench.consumer = new Consumer(replica.em.fork(), transport, {
      queue: options.queue,
      onFallback: () => void (bench.fallbacks += 1),
      onMessage: (message, outcome) => {
        if (outcome instanceof Error) {
          bench.failures += 1;
          bench.firstError ??= outcome;
          return;
        }
        bench.applied += 1;
        bench.verdicts[outcome] = (bench.verdicts[outcome] ?? 0) + 1;
        options.onApplied?.(message, outcome);
      },
    });
    await bench.consumer.start();
    return bench;
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
    await this.consumer?.stop();
    await this.transport.close();
  }
}
