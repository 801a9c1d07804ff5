import { ReplicaApplier, installReplica } from '@entity-sync/adapters/mikro-orm';
import type { CqrsMessage, RevisionVerdict } from '@entity-sync/core';
import type { Throughput } from '../graph/measure.js';
import type { Orm } from './orm.js';
import { ReplicaConsumer } from './replica-consumer.js';
import { newAccount, random } from './write-plan.js';

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
  return { rows: consumer.applied, seconds: (last - start) / 1000, verdicts: consumer.verdicts, failures: consumer.failures, firstError: consumer.firstError };
}

/**
 * Applies `count` messages one after another with one `ReplicaApplier` kept throughout, as its
 * documentation suggests, and returns the seconds each successive `step` messages took.
 */
export async function longLivedApplier(replica: Orm, messages: CqrsMessage[], step: number): Promise<number[]> {
  await installReplica(replica.em.fork());
  const applier = new ReplicaApplier(replica.em.fork());
  const steps: number[] = [];
  let start = performance.now();
  for (let i = 0; i < messages.length; i++) {
    await applier.apply(messages[i]!);
    if ((i + 1) % step === 0) {
      steps.push((performance.now() - start) / 1000);
      start = performance.now();
    }
  }
  return steps;
}

/** `count` save messages of new accounts, as the relay would publish them. */
export function accountMessages(count: number): CqrsMessage[] {
  const next = random(99);
  return Array.from({ length: count }, (_, i) => {
    const { updatedAt, ...fields } = newAccount(next, i + 1);
    return {
      version: 1, id: `account/[${i + 1}]/1`, cqrsId: 'account', operation: 'save', key: [i + 1], revision: 1, createdAt: new Date().toISOString(),
      state: { id: i + 1, ...fields, updatedAt: updatedAt.toISOString() },
    } satisfies CqrsMessage;
  });
}
