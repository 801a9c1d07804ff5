import { CqrsError, type CqrsMessage, type Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { listenOn } from '../../../internal/pg/raw-connection.js';
import { checkMasterInstalled } from './install-check.js';
import { arrayLiteral, ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { EntitySync } from '../../extension/entity-sync.js';
import { exactRow } from '../master/exact-values.js';
import { MasterMessages, type CapturedChange } from '../master/master-messages.js';
import { TransactionOrder } from './transaction-order.js';
import { WalRelay } from './wal-relay.js';
import { readCapture, slotExists, type CaptureSetup } from '../master/wal-capture.js';
import { checkEntityManager } from '../../extension/arguments.js';

/** Options of `OutboxRelay`. */
export interface OutboxRelayOptions {
  /** Outbox entries per batch. Default 1000. */
  batchSize?: number;
  /**
   * Called after the transport confirmed a batch and before the batch is deleted from the outbox. A crash
   * here (the window every relay has) publishes the batch again on the next run.
   */
  onPublished?: (messages: CqrsMessage[]) => void | Promise<void>;
  /** How often a started relay looks at the outbox when no NOTIFY arrives (trigger capture; WAL capture streams). Default 1000 ms. */
  pollMs?: number;
  /**
   * Called when a batch of a started relay fails (the transport is down, say: it retries with a backoff from
   * 200 ms to 30 s that commits do not cut short) and when its LISTEN connection is lost (it listens again).
   */
  onError?: (error: unknown) => void;
}

/** What `OutboxRelay.relayPending` did. */
export interface RelayReport {
  /** Outbox entries published (and then deleted from the outbox). */
  relayed: number;
}

interface OutboxRow {
  id: string;
  tx: string;
  cqrs_id: string;
  key: unknown[];
  operation: 'save' | 'delete';
  revision: string;
  /** JSON text, read exactly (see `exactRow`). */
  state: string | null;
  previous: string | null;
  correlation_id: string | null;
  created_at: string;
}

/** The NOTIFY channel the capture trigger wakes relays on. */
export const OUTBOX_CHANNEL = 'entity_sync_outbox';

// What a relay builds once: the messages of captured changes, the publishing order, and with WAL capture
// (or a slot left to drain after trigger capture replaced it) the slot's reader.
interface RelayPlan {
  messages: MasterMessages;
  order: TransactionOrder;
  setup: CaptureSetup;
  wal?: WalRelay;
}

async function relayPlan(em: EntityManager): Promise<RelayPlan> {
  const messages = new MasterMessages(em);
  await checkMasterInstalled(em, [...messages.masters.keys()]);
  const order = new TransactionOrder(messages.masters.values(), EntitySync.forEntityManager(em).graph);
  const setup = await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    const found = await readCapture(session, schema);
    if (found.mode === 'wal' && !await slotExists(session, found.slot)) throw CqrsError.notInstalled(schema, [`replication slot ${found.slot}`], 'entity-sync cqrs install --capture wal');
    return found;
  });
  return { messages, order, setup, wal: setup.mode === 'wal' ? new WalRelay(setup, messages, order) : undefined };
}

// With WAL capture, a relay's work: what trigger capture left in the outbox, then the slot's stream
// (until caught up with `once`, else until stopped).
async function fromSlot(wal: WalRelay, em: EntityManager, transport: Transport, options: OutboxRelayOptions, once: boolean,
  onRelayed: (entries: number) => void, onStreaming: (() => void) | undefined, drainOutbox: () => Promise<void>): Promise<void> {
  await drainOutbox();
  await wal.stream(em, transport, { batchSize: options.batchSize ?? 1000, onPublished: options.onPublished, onRelayed, onStreaming, once });
}

// The plan again when `cqrs install` switched the capture since (a relay running across the switch follows it).
async function followCapture(em: EntityManager, plan: RelayPlan): Promise<RelayPlan> {
  const mode = await inTransaction(em, async (tx) => (await readCapture(await SqlSession.open(tx), defaultSchemaOf(tx))).mode);
  return mode === plan.setup.mode ? plan : relayPlan(em);
}

// A transaction larger than this many batches is published in parts, each in its own order.
const WHOLE_TRANSACTION_BATCHES = 10;

/** A batch read from the outbox in its own open transaction: its entries deleted (not committed yet), its messages built. */
interface PendingBatch {
  handled: number;
  /** Whether the batch took as many entries as it could: more may be waiting. */
  full: boolean;
  /** Whether another batch can be read while this one is open (not on PGlite's one connection). */
  concurrent: boolean;
  /** Publishes the messages, then commits the delete; a failed publish rolls it back. */
  send(): Promise<void>;
  /** Rolls the batch back: its entries stay in the outbox. */
  abandon(): Promise<void>;
}

const ABANDONED = new Error('the relay batch was rolled back: the batch before it was not published');

// Reads a batch in its own transaction: its entries are deleted as they are read (reading and
// deleting are one statement), and the delete commits only once the transport confirmed them.
// Resolves once the messages are built, with the transaction still open; undefined when the
// outbox has nothing for this ORM.
function readBatch(em: EntityManager, transport: Transport, { messages, order }: RelayPlan, options: OutboxRelayOptions): Promise<PendingBatch | undefined> {
  // a transaction that joins one the caller has open shares its connection with the next batch's
  const joined = em.isInTransaction();
  return new Promise((resolve, reject) => {
    let decide!: (send: boolean) => void;
    const decided = new Promise<boolean>((settle) => (decide = settle));
    const done: Promise<void> = inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx);
      const outbox = `${ident(defaultSchemaOf(tx))}.entity_sync_outbox`;
      const size = options.batchSize ?? 1000;
      const columns = 'o.id::text AS id, o.tx::text AS tx, o.cqrs_id, o.key, o.operation, o.revision::text AS revision, ' +
        'o.state::text AS state, o.previous::text AS previous, o.correlation_id, o.created_at::text AS created_at';
      // SKIP LOCKED lets several relays share the outbox without publishing an entry twice at once.
      // The subquery orders by the bigint id (the text one is only returned, and would sort '10' before '9');
      // only the ids this ORM publishes: another's entries wait for the relay that knows them
      const rows = await session.query<OutboxRow>(`DELETE FROM ${outbox} o WHERE o.id IN (SELECT id FROM ${outbox} ` +
        `WHERE sent_at IS NULL AND cqrs_id = ANY(?::text[]) ORDER BY id LIMIT ${size} FOR UPDATE SKIP LOCKED) RETURNING ${columns}`,
      [arrayLiteral([...messages.masters.keys()])]);
      if (rows.length === 0) return resolve(undefined);
      const full = rows.length === size;
      if (full && !order.trivial) {
        // a full batch may end inside a transaction: its other entries come along, so that it is ordered as a whole
        const last = rows.reduce((max, row) => (BigInt(row.id) > max ? BigInt(row.id) : max), 0n);
        rows.push(...await session.query<OutboxRow>(`DELETE FROM ${outbox} o WHERE o.id IN (SELECT id FROM ${outbox} ` +
          `WHERE tx = ANY(?::bigint[]) AND id > ?::bigint AND sent_at IS NULL ORDER BY id LIMIT ${size * WHOLE_TRANSACTION_BATCHES} FOR UPDATE SKIP LOCKED) ` +
          `RETURNING ${columns}`, [`{${[...new Set(rows.map((row) => row.tx))].join(',')}}`, String(last)]));
      }
      const changes = rows.map((row) => {
        const digits = messages.masters.get(row.cqrs_id)?.digitColumns ?? new Set<string>();
        const state = row.state === null ? null : exactRow(row.state, digits);
        const previous = row.previous === null ? null : exactRow(row.previous, digits);
        const change: CapturedChange = {
          cqrsId: row.cqrs_id, key: row.key, operation: row.operation, revision: Number(row.revision), state, previous,
          correlationId: row.correlation_id, createdAt: new Date(row.created_at).toISOString(),
        };
        return { id: row.id, tx: row.tx, cqrsId: row.cqrs_id, key: row.key, state, previous, change };
      });
      const batch: CqrsMessage[] = [];
      for (const { change } of order.order(changes)) {
        const message = await messages.toMessage(change, tx);
        if (message) batch.push(message);
      }
      resolve({
        handled: rows.length, full, concurrent: session.concurrent && !joined,
        send: () => {
          decide(true);
          return done;
        },
        abandon: () => {
          decide(false);
          return done.catch((error: unknown) => {
            if (error !== ABANDONED) throw error;
          });
        },
      });
      if (!(await decided)) throw ABANDONED;
      if (batch.length) await transport.publish(batch);
      await options.onPublished?.(batch);
    });
    // a failure before the batch was read rejects the read; later ones reach send() or abandon()
    done.catch(reject);
  });
}

/**
 * The outbox relay. It publishes committed outbox entries in order, in batches, and deletes
 * them only once the transport confirmed them. The order is the outbox's, except inside a
 * transaction, whose entries go out together in an order that a replica's foreign keys accept
 * one message at a time (see TransactionOrder); a transaction of more than ten batches goes out
 * in parts. A crash between publishing and deleting publishes the batch again on the next run:
 * replicas drop the duplicates by revision, so each change applies once.
 *
 * `relayPending()` publishes what the outbox holds and returns; `start()` runs it as a
 * long-running process, woken by the capture trigger's NOTIFY on commit, with a poll that
 * catches what a missed notification would leave behind and retries with backoff, in order,
 * while the broker is down.
 *
 * @example
 * ```ts
 * const { relayed } = await new OutboxRelay(orm.em.fork(), transport).relayPending();
 * const relay = new OutboxRelay(orm.em.fork(), transport, { onError: console.warn });
 * await relay.start(); // ... on SIGTERM:
 * await relay.stop();
 * ```
 */
export class OutboxRelay {
  /** Entries a started relay published since `start()`. */
  relayed = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private woken = false;
  private unlisten: (() => Promise<void>) | undefined;
  private plan: RelayPlan | undefined;

  constructor(private readonly em: EntityManager, private readonly transport: Transport, private readonly options: OutboxRelayOptions = {}) {
    checkEntityManager('OutboxRelay', em, 'new OutboxRelay(orm.em.fork(), transport)');
  }

  /**
   * Publishes the committed outbox entries until the outbox is empty, then resolves. Throws
   * `CQRS_NOT_INSTALLED` before `cqrs install` ran, `CQRS_UNKNOWN_ID` when the outbox holds
   * entries of ids this ORM does not declare.
   */
  async relayPending(): Promise<RelayReport> {
    const plan = await relayPlan(this.em);
    let relayed = 0;
    if (plan.wal) await fromSlot(plan.wal, this.em, this.transport, this.options, true, (entries) => (relayed += entries), undefined,
      () => this.relayBatches(plan, () => this.em, () => true, (handled) => (relayed += handled)));
    await this.relayBatches(plan, () => this.em, () => true, (handled) => (relayed += handled));
    return { relayed };
  }

  /** Starts listening and relaying; resolves once listening (with WAL capture: once the slot streams). Throws `CQRS_NOT_INSTALLED` before `cqrs install` ran, `CQRS_UNKNOWN_ID` when the outbox holds entries of ids this ORM does not declare. */
  async start(): Promise<void> {
    if (this.running) return;
    const first = await relayPlan(this.em);
    this.plan = first;
    this.running = true;
    // trigger capture wakes the relay by NOTIFY (WAL capture streams; it listens too, for a switch back to triggers)
    this.unlisten = await listenOn(this.em, OUTBOX_CHANNEL, () => this.poke(), (error) => this.options.onError?.(error));
    // with WAL capture, start() resolves once the slot streams (or its first attempt failed: it retries, and says so through onError)
    let streaming: () => void = () => {};
    const started = first.wal ? new Promise<void>((resolve) => (streaming = resolve)) : undefined;
    this.loop = (async () => {
      let failures = 0;
      let quiet = false;
      while (this.running) {
        this.woken = false;
        let plan = this.plan!;
        try {
          // a poll that no NOTIFY cut short: the triggers were quiet, or are gone (a `cqrs install --capture wal` since start)
          if (quiet) plan = this.plan = await followCapture(this.em, plan);
          quiet = false;
          if (plan.wal) {
            const fork = this.em.fork();
            await fromSlot(plan.wal, fork, this.transport, this.options, false, (entries) => (this.relayed += entries), streaming,
              () => this.relayBatches(plan, () => fork, () => true, (handled) => (this.relayed += handled)));
            failures = 0;
            continue;
          }
          // a batch that was not full took everything committed when it was read; what committed since has
          // notified: `woken` tells, and starts afresh before the next read (asked after a full batch's
          // read, and after the publish of one that was not full)
          await this.relayBatches(plan, () => this.em.fork(), (batch) => {
            const more = this.running && (batch.full || this.woken);
            this.woken = false;
            return more;
          }, (handled) => (this.relayed += handled));
          failures = 0;
        } catch (error) {
          failures += 1;
          streaming();
          this.options.onError?.(error);
          this.plan = await followCapture(this.em, plan).catch(() => plan);
          // a commit's NOTIFY does not end this wait: with the broker down it would only fail again
          await this.sleep(Math.min(30_000, 200 * 2 ** (failures - 1)), false);
          continue;
        }
        if (!this.woken) {
          await this.sleep(this.options.pollMs ?? 1000);
          quiet = !this.woken;
        }
      }
      streaming();
    })();
    await started;
  }

  // Publishes batch after batch while the outbox has entries and `another(batch)` says so. After a
  // full batch, where the database allows two transactions at once, the next one is read while it
  // is published, and goes out only once it is confirmed and committed, so that the outbox order
  // holds; when it fails, the batch read after it is rolled back and the error thrown. After a
  // batch that was not full, the next one is read once it is out: reading ahead then would only
  // cut the entries committed meanwhile into more, smaller batches.
  private async relayBatches(plan: RelayPlan, em: () => EntityManager, another: (batch: PendingBatch) => boolean,
    relayed: (handled: number) => void): Promise<void> {
    let sending: Promise<void> | undefined;
    for (;;) {
      const [read, sent] = await Promise.allSettled([readBatch(em(), this.transport, plan, this.options), sending]);
      if (sent.status === 'rejected') {
        // the error thrown is the publish's; a failed rollback is told besides
        if (read.status === 'fulfilled') await read.value?.abandon().catch((error: unknown) => this.options.onError?.(error));
        throw sent.reason;
      }
      if (read.status === 'rejected') throw read.reason;
      const batch = read.value;
      if (!batch) return;
      const send = batch.send().then(() => relayed(batch.handled));
      if (batch.full && batch.concurrent && another(batch)) {
        sending = send;
        continue;
      }
      await send;
      if (!another(batch)) return;
    }
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
    this.plan?.wal?.stop();
    this.wake?.();
    await this.loop;
    await this.unlisten?.();
  }
}
