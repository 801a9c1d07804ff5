import type { CqrsMessage } from './cqrs-message.js';

/** Called for each delivered message; resolve to acknowledge it, reject to have it retried. */
export type MessageHandler = (message: CqrsMessage) => Promise<void>;

/** A running subscription; `stop` returns in-flight messages to the transport. */
export interface Subscription {
  stop(): Promise<void>;
}

/**
 * Carries CQRS messages from masters to replicas. Implement it for any broker: the built-in
 * memory, PostgreSQL and RabbitMQ transports use nothing a custom one could not.
 *
 * @example
 * ```ts
 * const transport: Transport = {
 *   async publish(messages) { for (const m of messages) await myBroker.send(m.cqrsId, JSON.stringify(m)); },
 *   async subscribe(queue, cqrsIds, handler) { return myBroker.listen(queue, cqrsIds, (raw) => handler(JSON.parse(raw))); },
 *   async close() { await myBroker.close(); },
 * };
 * ```
 */
export interface Transport {
  /** Publishes messages in order; resolves once the broker has them all (confirms). */
  publish(messages: CqrsMessage[], options?: { queue?: string }): Promise<void>;
  /** Delivers messages of `cqrsIds` for the replica service `queue` to `handler`. */
  subscribe(queue: string, cqrsIds: string[], handler: MessageHandler): Promise<Subscription>;
  /** Releases connections. */
  close(): Promise<void>;
}
