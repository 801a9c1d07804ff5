import type { RevisionVerdict } from '@entity-sync/core';
import type { Throughput } from '../graph/measure.js';
import type { Orm } from './orm.js';
import { ReplicaConsumer } from './replica-consumer.js';

/** Options of `applyQueue`. */
export interface ApplyQueueOptions {
  amqpUrl: string;
  queue: string;
  /** Messages waiting in the queue. */
  expected: number;
  prefetch: number;
  concurrency: number;
}

/** Seconds to apply `rows` messages, and what the revision guard said about them. */
export interface ApplyRun extends Throughput {
  verdicts: Partial<Record<RevisionVerdict, number>>;
  failures: number;
  firstError: unknown;
  /** Batches that failed together and were applied one by one. */
  fallbacks: number;
}

/**
 * The consumer alone: drains a queue that already holds `expected` messages into the replica
 * database, timed from the subscription to the last apply.
 */
export async function applyQueue(replica: Orm, options: ApplyQueueOptions): Promise<ApplyRun> {
  let last = performance.now();
  const start = performance.now();
  const consumer = await ReplicaConsumer.start(replica, { ...options, onApplied: () => (last = performance.now()) });
  try {
    await consumer.waitFor(options.expected);
  } finally {
    await consumer.stop();
  }
  return {
    rows: consumer.applied, seconds: (last - start) / 1000, verdicts: consumer.verdicts, failures: consumer.failures, firstError: consumer.firstError,
    fallbacks: consumer.fallbacks,
  };
}
