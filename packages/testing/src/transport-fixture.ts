import type { Transport, TransportAdmin } from '@entity-sync/core';

/** A method of `TransportAdmin`. */
export type AdminMethod = keyof TransportAdmin;

/** Every `TransportAdmin` method, for the `admin` of a fixture whose transport implements them all. */
export const allAdmin: readonly AdminMethod[] = ['declareQueue', 'deadLetters', 'retryDeadLetters', 'purgeDeadLetters', 'pending'];

/** Retry settings the contract opens each transport with; the fixture passes them on to its transport. */
export interface ContractTransportOptions {
  /** Attempts before a failing message goes to the dead letters. */
  maxAttempts: number;
  /** Least delay before each retry (a transport may back off further, e.g. doubling it). */
  retryDelayMs: number;
}

/**
 * What `transportContract()` runs against: a way to open the transport under test, and the fault
 * hooks it supports. Each hook is optional; the tests that need a missing one are not registered,
 * and the contract prints which, and why, when it starts.
 */
export interface TransportFixture<T extends Transport = Transport> {
  /** Names the transport in the suite's title (`transport contract [name]`). */
  name: string;
  /**
   * Opens a new transport with these retry settings. Every transport one fixture opens reaches the
   * same broker (as two processes of one deployment would): a message published through one is
   * delivered to a subscription of another. The contract closes each transport it opened.
   */
  open(options: ContractTransportOptions): Promise<T & TransportAdmin>;
  /**
   * The optional `TransportAdmin` methods the fixture's transports implement (`allAdmin` for all).
   * Tests that need one not listed are not registered; parts of tests that use one are left out.
   */
  admin?: readonly AdminMethod[];
  /** Runs once before the first test (start a broker, say). */
  setUp?(): Promise<void>;
  /** Runs once after the last test. */
  tearDown?(): Promise<void>;
  /**
   * Takes the broker away and brings it back, as an outage does. Enables: publishing while the
   * broker is down fails with `TRANSPORT_UNAVAILABLE` and does not hang; a subscription resumes
   * once the broker is back.
   */
  outage?: { stop(): Promise<void>; start(): Promise<void> };
  /**
   * Ends a transport as a killed process would: its connections cut, its handlers in flight
   * abandoned, nothing acknowledged. Enables: a message whose consumer died mid-message is
   * delivered again, to another transport on the same broker.
   */
  crash?(transport: T): Promise<void>;
  /**
   * Puts `body` (raw bytes, not a message) where the consumers of `queue` get it as a message of
   * `cqrsId`. Enables the unreadable body in the dead-letter test: dead-lettered, listed with its
   * text, and purged like any other letter.
   */
  injectRawBody?(transport: T, queue: string, cqrsId: string, body: Buffer): Promise<void>;
  /**
   * Whether the replica-outage test may start a throwaway PostgreSQL cluster (`PostgresCluster`)
   * for its replica database. Default: when PostgreSQL's binaries are on the machine, and always
   * under `CI=true` (where their absence fails the test instead of leaving it out).
   */
  replicaDatabase?: boolean;
}
