import { CQRS_MESSAGE_VERSION, type CqrsMessage, type Transport, type TransportAdmin } from '@entity-sync/core';
import type { ContractTransportOptions, TransportFixture } from './transport-fixture.js';

/** One test of the contract; `needs` says what the fixture lacks when it cannot run. */
export interface ContractCase {
  name: string;
  run: () => Promise<void>;
  /** Set when the test is not registered: the hook or capability the fixture does not provide. */
  needs?: string;
  /** Set when the test runs without a part of it, for want of this hook or capability. */
  partly?: string;
}

/** The transports one test opened, closed when it ends (those it crashed aside). */
export class OpenedTransports<T extends Transport> {
  private readonly open = new Set<T & TransportAdmin>();

  constructor(private readonly fixture: TransportFixture<T>) {}

  async transport(options: Partial<ContractTransportOptions> = {}): Promise<T & TransportAdmin> {
    const transport = await this.fixture.open({ maxAttempts: 3, retryDelayMs: 100, ...options });
    this.open.add(transport);
    return transport;
  }

  /** Ends `transport` through the fixture's crash hook; it is not closed afterwards. */
  async crash(transport: T & TransportAdmin): Promise<void> {
    this.open.delete(transport);
    await this.fixture.crash!(transport);
  }

  async closeAll(): Promise<void> {
    for (const transport of this.open) {
      await transport.close().catch((error: Error) => console.warn(`transport contract [${this.fixture.name}]: closing a transport failed: ${error.message}`));
    }
    this.open.clear();
  }
}

// Queue names and CQRS ids unique to this run, so that tests never see each other's messages on a
// broker that outlives one run.
const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
let names = 0;
/** A queue name and CQRS id no other test uses. */
export const fresh = (what: string) => `contract-${run}-${what}-${++names}`;

/** A save of row `key` at `revision`. */
export const contractMessage = (cqrsId: string, key: number, revision = 1, state: Record<string, unknown> = { id: key }): CqrsMessage => ({
  version: CQRS_MESSAGE_VERSION, id: `${cqrsId}/${key}/${revision}`, cqrsId, operation: 'save', key: [key], revision,
  state, createdAt: new Date().toISOString(),
});

