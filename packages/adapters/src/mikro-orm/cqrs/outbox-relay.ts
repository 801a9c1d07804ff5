import type { CqrsMessage, Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../compat.js';
import { listenOn } from '../graph/raw-connection.js';
import { checkMasterInstalled } from './schema-check.js';
import { arrayLiteral, ident, SqlSession } from '../graph/sql-session.js';
import { MasterMessages } from './master-messages.js';

/** Options of `relayOutbox` and `OutboxRelay`. */
export interface RelayOptions {
  /** Outbox entries per batch. Default 1000. */
  batchSize?: number;
  /**
   * Called after the transport confirmed a batch and before the batch is deleted from the outbox. A crash
   * here (the window every relay has) publishes the batch again on the next run.
   */
  onPublished?: (messages: CqrsMessage[]) => void | Promise<void>;
}

interface OutboxRow {
  id: string;
  cqrs_id: string;
  key: unknown[];
  operation: 'save' | 'delete';
  revision: string;
  state: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
  correlation_id: string | null;
  created_at: string;
}

/** The NOTIFY channel the capture trigger wakes relays on. */
export const OUTBOX_CHANNEL = 'entity_sync_outbox';

async function relayBatch(em: EntityManager, transport: Transport, messages: MasterMessages, options: RelayOptions): Promise<number> {
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const outbox = `${ident(defaultSchemaOf(tx))}.entity_sync_outbox`;
    // SKIP LOCKED lets several relays share the outbox without publishing an entry twice at once.
    const rows = await session.query<OutboxRow>(
      // ORDER BY o.id, the bigint: a bare `id` would name the text output column and sort '10' before '9'
      `SELECT o.id::text AS id, o.cqrs_id, o.key, o.operation, o.revision::text AS revision, o.state, o.previous, o.correlation_id, o.created_at::text AS created_at ` +
      // only the ids this ORM publishes: another's entries wait for the relay that knows them
      `FROM ${outbox} o WHERE o.sent_at IS NULL AND o.cqrs_id = ANY(?::text[]) ORDER BY o.id LIMIT ${options.batchSize ?? 1000} FOR UPDATE SKIP LOCKED`,
      [arrayLiteral([...messages.masters.keys()])]);
    if (rows.length === 0) return 0;
    const batch: CqrsMessage[] = [];
    for (const row of rows) {
      const message = await messages.toMessage({
        cqrsId: row.cqrs_id,
        key: row.key,
        operation: row.operation,
        revision: Number(row.revision),
        state: row.state,
        previous: row.previous,
        correlationId: row.correlation_id,
        createdAt: new Date(row.created_at).toISOString(),
      }, tx);
      if (message) batch.push(message);
    }
    if (batch.length) await transport.publish(batch);
    await options.onPublished?.(batch);
    await session.run(`DELETE FROM ${outbox} WHERE id = ANY(?::bigint[])`, [`{${rows.map((row) => row.id).join(',')}}`]);
    return rows.length;
  });
}

/**
 * Publishes committed outbox entries in order, in batches, and deletes them only once the
 * transport confirmed them. A crash between publishing and deleting publishes the batch again
 * on the next run: replicas drop the duplicates by revision, so each change applies once.
 * Runs until the outbox is empty; returns how many entries it handled.
 */
export async function relayOutbox(em: EntityManager, transport: Transport, options: RelayOptions = {}): Promise<number> {
  const messages = new MasterMessages(em);
  await checkMasterInstalled(em, [...messages.masters.keys()]);
  let total = 0;
  for (let handled = -1; handled !== 0; total += handled) handled = await relayBatch(em, transport, messages, options);
  return total;
}

/** Options of a long-running `OutboxRelay`. */
export interface OutboxRelayOptions extends RelayOptions {
  /** How often to look at the outbox when no NOTIFY arrives. Default 1000 ms. */
  pollMs?: number;
  /**
   * Called when a batch fails (the transport is down, say: the relay retries with a backoff from
   * 200 ms to 30 s that commits do not cut short) and when the LISTEN connection is lost (it listens again).
   */
  onError?: (error: unknown) => void;
}

/**
 * The outbox relay as a long-running process: woken by the capture trigger's NOTIFY on commit,
 * it publishes until the outbox is empty, then waits; a poll catches what a missed
 * notification would leave behind. Failures (broker down) are retried with backoff, in order.
 */
export class OutboxRelay {
  /** Entries handled since start. */
  relayed = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private unlisten: (() => Promise<void>) | undefined;

  constructor(private readonly em: EntityManager, private readonly transport: Transport, private readonly options: OutboxRelayOptions = {}) {}

  /** Starts listening and relaying; resolves once listening. Throws `CQRS_NOT_INSTALLED` before `cqrs install` ran, `CQRS_UNKNOWN_ID` when the outbox holds entries of ids this ORM does not declare. */
  async start(): Promise<void> {
    if (this.running) return;
    const messages = new MasterMessages(this.em);
    await checkMasterInstalled(this.em, [...messages.masters.keys()]);
    this.running = true;
    this.unlisten = await listenOn(this.em, OUTBOX_CHANNEL, () => this.poke(), (error) => this.options.onError?.(error));
    this.loop = (async () => {
      let failures = 0;
      while (this.running) {
        this.woken = false;
        try {
          const handled = await relayBatch(this.em.fork(), this.transport, messages, this.options);
          this.relayed += handled;
          failures = 0;
          if (handled > 0) continue;
        } catch (error) {
          failures += 1;
          this.options.onError?.(error);
          // a commit's NOTIFY does not end this wait: with the broker down it would only fail again
          await this.sleep(Math.min(30_000, 200 * 2 ** (failures - 1)), false);
          continue;
        }
        if (!this.woken) await this.sleep(this.options.pollMs ?? 1000);
      }
    })();
  }

  private poke(): void {
    this.woken = true;
    this.wake?.();
  }

  // `wakes`: whether a NOTIFY ends the wait early; stop always does.
  private sleep(ms: number, wakes = true): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        if (wakes || !this.running) {
          this.wake = undefined;
          done();
        }
      };
    });
  }

  /** Stops after the batch in flight (which is published and deleted, or left for the next run). */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.unlisten?.();
  }
}
