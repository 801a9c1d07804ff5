import { isLostConnection, TransportError, type AdministeredTransport, type CqrsMessage, type MessageHandler, type Subscription } from '@entity-sync/core';
import type { SqlClient } from './sql-client.js';

/** Options of the PostgreSQL transport. */
export interface PostgresTransportOptions {
  /** Schema of the message tables. Default `public`. */
  schema?: string;
  /** Attempts before a message goes to the dead letters. Default 5. */
  maxAttempts?: number;
  /** Delay before retry n is `retryDelayMs * 2^(n-1)`. Default 200. */
  retryDelayMs?: number;
  /** How long a claimed message stays hidden from other consumers; a crashed consumer's message comes back after it. Default 30 s. */
  claimSeconds?: number;
  /** Polling interval when no NOTIFY arrives. Default 1000 ms. */
  pollMs?: number;
  /**
   * Messages a subscription claims at once and hands to its handler together (so that a
   * `ReplicaConsumer` applies them in one transaction). Default 1: one at a time, in order.
   */
  concurrency?: number;
  /**
   * Told of every failure of a subscription's own queries (a database that went away, say): the
   * subscription waits with a bounded backoff and carries on. Default: a warning on stderr.
   */
  onError?: (error: Error, context: { queue: string; retryInMs: number }) => void;
  /**
   * Told when published messages matched no queue (no replica service declared one for their CQRS
   * id yet). They are kept in `entity_sync_unroutable` and go to the first queue declared for
   * them. Default: a warning on stderr.
   */
  onUnroutable?: (count: number, cqrsIds: string[]) => void;
}

/** A message that failed every attempt. */
export interface StoredDeadLetter {
  id: string;
  queue: string;
  message: CqrsMessage;
  error: string;
  attempts: number;
}

const CHANNEL = 'entity_sync_messages';

function warn(error: Error, context: { queue: string; retryInMs: number }): void {
  console.warn(`entity-sync: the PostgreSQL transport's subscription to ${context.queue} failed (${error.message}); retrying in ${context.retryInMs} ms`);
}

function warnUnroutable(count: number, cqrsIds: string[]): void {
  console.warn(`entity-sync: ${count} message(s) of ${cqrsIds.join(', ')} matched no queue; kept until a replica service declares one`);
}

const unavailable = (what: string, error: unknown) => TransportError.unavailable(
  `The PostgreSQL transport cannot reach its database (${(error as Error).message}): ${what}. Check that the server runs; the relay publishes again.`, error);

/**
 * A transport on a PostgreSQL database (real or embedded PGlite): a message table with one
 * row per message and queue, NOTIFY to wake consumers, claims with an expiry so that a
 * consumer that dies mid-apply returns its message, retries with backoff, dead letters, and
 * unroutable messages kept until a queue takes their CQRS id.
 */
export class PostgresTransport implements AdministeredTransport {
  private readonly schema: string;
  private readonly maxAttempts: number;
  // ends a subscription at once, for close(): its loop is told to stop and its LISTEN released
  private readonly subscriptions = new Set<() => Promise<void>>();
  private closed = false;
  /** Messages kept as unroutable since start. */
  unroutable = 0;

  constructor(private readonly client: SqlClient, private readonly options: PostgresTransportOptions = {}) {
    this.schema = `"${(options.schema ?? 'public').replace(/"/g, '""')}"`;
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  /** Creates the message and queue tables (idempotent). */
  async install(): Promise<void> {
    await this.client.query(`CREATE TABLE IF NOT EXISTS ${this.schema}.entity_sync_queues (queue text PRIMARY KEY, cqrs_ids text[] NOT NULL)`);
    await this.client.query(`CREATE TABLE IF NOT EXISTS ${this.schema}.entity_sync_messages (id bigserial PRIMARY KEY, queue text NOT NULL, ` +
      `cqrs_id text NOT NULL, body jsonb NOT NULL, attempts int NOT NULL DEFAULT 0, available_at timestamptz NOT NULL DEFAULT clock_timestamp(), ` +
      `dead boolean NOT NULL DEFAULT false, error text)`);
    await this.client.query(`CREATE INDEX IF NOT EXISTS entity_sync_messages_next ON ${this.schema}.entity_sync_messages (queue, id) WHERE NOT dead`);
    await this.client.query(`CREATE TABLE IF NOT EXISTS ${this.schema}.entity_sync_unroutable (id bigserial PRIMARY KEY, cqrs_id text NOT NULL, body jsonb NOT NULL)`);
  }

  async publish(messages: CqrsMessage[], options: { queue?: string } = {}): Promise<void> {
    if (messages.length === 0) return;
    if (this.closed) throw TransportError.closed('PostgreSQL');
    let kept: { cqrs_id: string }[];
    try {
      // one statement fans every message out to the queues that want its CQRS id, in publish
      // order, and keeps those no queue wants
      kept = await this.client.query<{ cqrs_id: string }>(`WITH m AS (SELECT body, n FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS m(body, n)), ` +
        `routed AS (INSERT INTO ${this.schema}.entity_sync_messages (queue, cqrs_id, body) ` +
        `SELECT q.queue, m.body->>'cqrsId', m.body FROM m JOIN ${this.schema}.entity_sync_queues q ON (m.body->>'cqrsId') = ANY(q.cqrs_ids) AND ($2::text IS NULL OR q.queue = $2) ` +
        `ORDER BY m.n, q.queue) ` +
        `INSERT INTO ${this.schema}.entity_sync_unroutable (cqrs_id, body) SELECT m.body->>'cqrsId', m.body FROM m WHERE $2::text IS NULL AND NOT EXISTS ` +
        `(SELECT 1 FROM ${this.schema}.entity_sync_queues q WHERE (m.body->>'cqrsId') = ANY(q.cqrs_ids)) ORDER BY m.n RETURNING cqrs_id`,
      [JSON.stringify(messages), options.queue ?? null]);
      await this.client.query(`NOTIFY ${CHANNEL}`);
    } catch (error) {
      if (isLostConnection(error)) throw unavailable(`${messages.length} message(s) not published`, error);
      throw error;
    }
    if (kept.length) {
      this.unroutable += kept.length;
      (this.options.onUnroutable ?? warnUnroutable)(kept.length, [...new Set(kept.map((row) => row.cqrs_id))]);
    }
  }

  /**
   * Registers the queue of a replica service for `cqrsIds`, so that it receives what is published
   * from now on, and hands it the kept unroutable messages of those ids. Idempotent.
   */
  async declareQueue(queue: string, cqrsIds: string[]): Promise<void> {
    await this.client.query(`INSERT INTO ${this.schema}.entity_sync_queues (queue, cqrs_ids) VALUES ($1, $2) ` +
      `ON CONFLICT (queue) DO UPDATE SET cqrs_ids = EXCLUDED.cqrs_ids`, [queue, cqrsIds]);
    await this.client.query(`WITH kept AS (DELETE FROM ${this.schema}.entity_sync_unroutable WHERE cqrs_id = ANY($2) RETURNING id, cqrs_id, body) ` +
      `INSERT INTO ${this.schema}.entity_sync_messages (queue, cqrs_id, body) SELECT $1, cqrs_id, body FROM kept ORDER BY id`, [queue, cqrsIds]);
  }

  /** The CQRS ids the queue is bound to or holds waiting messages of (dead letters aside). */
  async cqrsIdsOf(queue: string): Promise<string[]> {
    const rows = await this.client.query<{ cqrs_id: string }>(`SELECT unnest(cqrs_ids) AS cqrs_id FROM ${this.schema}.entity_sync_queues WHERE queue = $1 ` +
      `UNION SELECT DISTINCT cqrs_id FROM ${this.schema}.entity_sync_messages WHERE queue = $1 AND NOT dead ORDER BY 1`, [queue]);
    return rows.map((row) => row.cqrs_id);
  }

  async subscribe(queue: string, cqrsIds: string[], handler: MessageHandler): Promise<Subscription> {
    await this.declareQueue(queue, cqrsIds);
    let running = true;
    let wake: (() => void) | undefined;
    const unlisten = await this.client.listen(CHANNEL, () => wake?.());
    // a wait that a NOTIFY (or stop) cuts short
    const sleep = (ms: number) => new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
      if (!running) done();
    });
    const loop = (async () => {
      let failures = 0;
      while (running) {
        try {
          if (await this.deliverNext(queue, handler)) {
            failures = 0;
            continue;
          }
          failures = 0;
          await sleep(this.options.pollMs ?? 1000);
        } catch (error) {
          // a subscription that close() ended meets its closed pool: nothing to report
          if (!running) break;
          // The database is away (a restart, an outage): that is no message's fault. Wait, then go on.
          failures += 1;
          const retryInMs = Math.min(5000, 100 * 2 ** (failures - 1));
          this.failures += 1;
          (this.options.onError ?? warn)(error as Error, { queue, retryInMs });
          await sleep(retryInMs);
        }
      }
    })();
    let listening: Promise<void> | undefined;
    const end = () => {
      running = false;
      wake?.();
      listening ??= unlisten();
      return listening;
    };
    this.subscriptions.add(end);
    return {
      stop: async () => {
        running = false;
        wake?.();
        await loop;
        await end();
        this.subscriptions.delete(end);
      },
    };
  }

  /** Failures of subscriptions' own queries so far (each was waited out and retried). */
  failures = 0;

  // Claims the oldest available messages of the queue (up to `concurrency`), hands them over
  // together, deletes those handled and schedules a retry (or the dead letters) for the others.
  private async deliverNext(queue: string, handler: MessageHandler): Promise<boolean> {
    const claimed = await this.client.query<{ id: string; body: CqrsMessage; attempts: number }>(
      `UPDATE ${this.schema}.entity_sync_messages SET attempts = attempts + 1, ` +
      `available_at = clock_timestamp() + make_interval(secs => $2) WHERE id IN (SELECT id FROM ${this.schema}.entity_sync_messages ` +
      `WHERE queue = $1 AND NOT dead AND available_at <= clock_timestamp() ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) ` +
      `RETURNING id::text, body, attempts`, [queue, this.options.claimSeconds ?? 30, Math.max(1, this.options.concurrency ?? 1)]);
    if (claimed.length === 0) return false;
    claimed.sort((a, b) => Number(a.id) - Number(b.id));
    const outcomes = await Promise.allSettled(claimed.map((message) => handler(message.body)));
    const done = claimed.filter((_, i) => outcomes[i]!.status === 'fulfilled').map((message) => message.id);
    if (done.length) await this.client.query(`DELETE FROM ${this.schema}.entity_sync_messages WHERE id = ANY($1::bigint[])`, [`{${done.join(',')}}`]);
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      const message = claimed[i]!;
      const error = outcome.reason as Error;
      const dead = message.attempts >= this.maxAttempts;
      const delay = ((this.options.retryDelayMs ?? 200) * 2 ** (message.attempts - 1)) / 1000;
      await this.client.query(`UPDATE ${this.schema}.entity_sync_messages SET dead = $2, error = $3, ` +
        `available_at = clock_timestamp() + make_interval(secs => $4) WHERE id = $1`,
      [message.id, dead, error?.message ?? String(error), delay]);
    }
    return true;
  }

  /** Dead letters of a queue (or all), oldest first. */
  async deadLetters(queue?: string): Promise<StoredDeadLetter[]> {
    const rows = await this.client.query<{ id: string; queue: string; body: CqrsMessage; error: string; attempts: number }>(
      `SELECT id::text, queue, body, error, attempts FROM ${this.schema}.entity_sync_messages WHERE dead AND ($1::text IS NULL OR queue = $1) ORDER BY id`,
      [queue ?? null]);
    return rows.map((row) => ({ id: row.id, queue: row.queue, message: row.body, error: row.error, attempts: row.attempts }));
  }

  /** Puts dead letters back in their queues with fresh attempts; returns how many. */
  async retryDeadLetters(queue?: string): Promise<number> {
    const rows = await this.client.query(`UPDATE ${this.schema}.entity_sync_messages SET dead = false, attempts = 0, error = NULL, ` +
      `available_at = clock_timestamp() WHERE dead AND ($1::text IS NULL OR queue = $1) RETURNING id`, [queue ?? null]);
    await this.client.query(`NOTIFY ${CHANNEL}`);
    return rows.length;
  }

  /** Deletes dead letters; returns how many. */
  async purgeDeadLetters(queue?: string): Promise<number> {
    return (await this.client.query(`DELETE FROM ${this.schema}.entity_sync_messages WHERE dead AND ($1::text IS NULL OR queue = $1) RETURNING id`,
      [queue ?? null])).length;
  }

  /** Messages not yet handled (dead letters aside). */
  async pending(queue?: string): Promise<number> {
    const [row] = await this.client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${this.schema}.entity_sync_messages ` +
      `WHERE NOT dead AND ($1::text IS NULL OR queue = $1)`, [queue ?? null]);
    return row?.n ?? 0;
  }

  /**
   * Ends the subscriptions still open, without waiting for their handlers (a message being handled
   * is not acknowledged: it comes back once its claim runs out), and releases the connections.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const ends = [...this.subscriptions];
    this.subscriptions.clear();
    await Promise.all(ends.map((end) => end()));
    await this.client.close();
  }
}
