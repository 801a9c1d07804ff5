import type { CqrsMessage } from './cqrs-message.js';
import type { Transport } from './transport.js';

/** A message that failed every attempt, as a transport lists it. */
export interface TransportDeadLetter {
  /** The replica service's queue it failed in. */
  queue: string;
  /** The message, or null when its body is not a readable message (see `body`). */
  message: CqrsMessage | null;
  /** The body as it arrived, for a letter whose message could not be read. */
  body?: string;
  /** Why the last attempt failed. */
  error: string;
  /** Attempts made before it was set aside. */
  attempts: number;
}

/**
 * What a transport can do beyond `Transport` for the tools that operate it (`entity-sync cqrs
 * install` and `dead-letters`, and the transport contract suite). Every member is optional:
 * implement those the broker can do. The built-in memory, PostgreSQL and RabbitMQ transports
 * implement them all.
 *
 * @example
 * ```ts
 * class MyTransport implements Transport, TransportAdmin {
 *   async declareQueue(queue, cqrsIds) { await myBroker.createQueue(queue, { bindings: cqrsIds }); }
 *   async deadLetters(queue) { return (await myBroker.peek(`${queue}.dead`)).map(toDeadLetter); }
 *   async retryDeadLetters(queue) { return myBroker.move(`${queue}.dead`, queue); }
 *   async purgeDeadLetters(queue) { return myBroker.purge(`${queue}.dead`); }
 *   async pending(queue) { return myBroker.depth(queue); }
 *   // ...publish, subscribe, close
 * }
 * ```
 */
export interface TransportAdmin {
  /** Creates the queue of a replica service bound to `cqrsIds`, so that it keeps what is published before its first consumer. Idempotent. */
  declareQueue?(queue: string, cqrsIds: string[]): Promise<void>;
  /** The dead letters of a queue, oldest first; listing leaves them in place. */
  deadLetters?(queue: string): Promise<TransportDeadLetter[]>;
  /** Puts the dead letters of a queue back in it with fresh attempts; returns how many. */
  retryDeadLetters?(queue: string): Promise<number>;
  /** Drops the dead letters of a queue; returns how many. */
  purgeDeadLetters?(queue: string): Promise<number>;
  /** Messages waiting in a queue and not yet handled (dead letters aside). */
  pending?(queue: string): Promise<number>;
  /**
   * The CQRS ids a queue is bound to or holds waiting messages of (dead letters aside), for the
   * consumer's start-up check: an id no `@Replica` of the consumer declares would dead-letter
   * every message of it. Optional: a broker that cannot list its bindings (RabbitMQ over AMQP)
   * leaves it out, and such messages then end in the dead letters with `CQRS_UNKNOWN_ID`.
   */
  cqrsIdsOf?(queue: string): Promise<string[]>;
}

/** A transport with every admin capability of the operating tools, as the built-in ones are. */
export type AdministeredTransport = Transport & Required<Omit<TransportAdmin, 'cqrsIdsOf'>> & Pick<TransportAdmin, 'cqrsIdsOf'>;

/** What the `entity-sync` command passes to a transport factory: the retry settings of `cqrs --max-attempts / --retry-delay`. */
export interface TransportSettings {
  /** Attempts before a message goes to the dead letters, when the command line gives them. */
  maxAttempts?: number;
  /** Delay before the first retry in ms (doubling for each next one), when the command line gives it. */
  retryDelayMs?: number;
  /** Where to report a transport problem the transport works around (a lost connection it reopens). */
  onError(error: unknown): void;
}

/**
 * Builds the transport of the `entity-sync cqrs` commands for a broker of your own: export it as
 * `transport` from the config module the command loads (next to its MikroORM config). The
 * commands close the transport when they end. `install`, `dead-letters` and the consumer's
 * start-up check use the `TransportAdmin` members it has.
 *
 * @example
 * ```ts
 * // mikro-orm.config.ts
 * export default defineConfig({ ... });
 * export const transport: TransportFactory = ({ maxAttempts }) => new MyTransport({ url: process.env.BROKER_URL, maxAttempts });
 * ```
 */
export type TransportFactory = (settings: TransportSettings) => (Transport & TransportAdmin) | Promise<Transport & TransportAdmin>;
