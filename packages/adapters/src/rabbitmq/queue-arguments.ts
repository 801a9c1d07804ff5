import { OptionError, TransportError } from '@entity-sync/core';
import type { Options } from 'amqplib';

/**
 * The RabbitMQ queue type the transport declares its queues with: `classic` (one node) or
 * `quorum` (replicated over the cluster by Raft, RabbitMQ 3.10 or later).
 */
export type RabbitMqQueueType = 'classic' | 'quorum';

/** The queue type an option names, checked. */
export function queueTypeOf(value: unknown): RabbitMqQueueType {
  if (value === undefined || value === 'classic' || value === 'quorum') return value ?? 'classic';
  throw OptionError.invalid('RabbitMqTransport', 'queueType', value, "'classic' or 'quorum'", 'In a transport URL: ?queueType=quorum.');
}

/**
 * A durable queue of `type`. Classic queues are declared exactly as before quorum queues were an
 * option (no type argument), so that queues declared then stay equivalent.
 */
export function durableQueue(type: RabbitMqQueueType, args: Record<string, unknown> = {}): Options.AssertQueue {
  return { durable: true, arguments: type === 'quorum' ? { 'x-queue-type': 'quorum', ...args } : args };
}

/**
 * The main queue of a replica service. A quorum queue that gives up on a message by itself (a
 * `delivery-limit` set by policy, or RabbitMQ 4's default of 20 redeliveries) dead-letters it to
 * `<queue>.dead` instead of dropping it.
 */
export function serviceQueue(type: RabbitMqQueueType, queue: string): Options.AssertQueue {
  return durableQueue(type, type === 'quorum' ? { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': `${queue}.dead` } : {});
}

/**
 * A delay queue: its messages expire after `delayMs` and dead-letter back into `queue`. A quorum
 * delay queue hands them over at least once (RabbitMQ 3.10's `at-least-once` dead-lettering,
 * which needs `reject-publish` overflow): a node lost in the hand-over loses no retry.
 */
export function delayQueue(type: RabbitMqQueueType, queue: string, delayMs: number): Options.AssertQueue {
  return durableQueue(type, {
    'x-message-ttl': delayMs,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': queue,
    ...(type === 'quorum' ? { 'x-dead-letter-strategy': 'at-least-once', 'x-overflow': 'reject-publish' } : {}),
  });
}

/**
 * The typed error for a declaration RabbitMQ refused because the queue exists with other
 * arguments (another queue type, most often); undefined for any other failure.
 */
export function queueMismatch(error: unknown, type: RabbitMqQueueType): TransportError | undefined {
  const refused = /inequivalent arg '([^']+)' for queue '([^']+)'/.exec(String((error as Error | undefined)?.message ?? ''));
  if (!refused) return undefined;
  const [, argument, queue] = refused;
  return TransportError.queueArgumentsDiffer(queue!, argument!, type, error);
}
