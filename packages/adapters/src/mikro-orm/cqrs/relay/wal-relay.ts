import type { CqrsMessage, Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { loadPeer } from '../../../internal/peer.js';
import { arrayLiteral, ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { exactRow } from '../master/exact-values.js';
import type { CapturedChange, MasterMessages } from '../master/master-messages.js';
import { CORRELATION_PREFIX } from '../master/outbox.js';
import type { CaptureSetup } from '../master/wal-capture.js';
import type { TransactionOrder } from './transaction-order.js';

// The relay's side of WAL capture. Each batch, in one transaction of the master database:
// take the slot's advisory lock (one relay at a time; another finds it taken and waits for the
// next poll), peek at the slot's committed transactions (pgoutput, decoded by
// pg-logical-replication's parser, values in PostgreSQL's text form), keep per transaction and
// row one change with its final state and the row as it was before the transaction, turn the
// rows into `to_jsonb` text in the database (the same text the capture trigger writes, generated
// columns computed again), count each row's revision in `entity_sync_revision` (so the repair
// tools read the same revisions in both modes), publish in the same order as trigger capture,
// and record where the batch ends. Only after the commit is the slot advanced. A crash before
// the commit publishes the batch again with the same revisions (replicas drop the duplicates); a
// crash after it leaves transactions in the slot that the recorded position skips.

interface RelationColumn {
  name: string;
  parser: (raw: string) => unknown;
}

interface Relation {
  schema: string;
  name: string;
  columns: RelationColumn[];
}

type Tuple = Record<string, string | null>;

type PgoutputMessage =
  | { tag: 'begin'; commitLsn: string | null; commitTime: bigint }
  | { tag: 'commit'; commitLsn: string | null; commitEndLsn: string | null }
  | { tag: 'relation'; columns: RelationColumn[] }
  | { tag: 'insert'; relation: Relation; new: Tuple }
  | { tag: 'update'; relation: Relation; old: Tuple | null; key: Tuple | null; new: Tuple }
  | { tag: 'delete'; relation: Relation; old: Tuple | null; key: Tuple | null }
  | { tag: 'message'; transactional: boolean; prefix: string; content: Uint8Array }
  | { tag: string };

interface Parser {
  parse(buffer: Buffer): PgoutputMessage;
}

/** One row's net change in one transaction. */
interface RowChange {
  table: WalTable;
  /** The row before the transaction (null when the transaction inserted it). */
  before: Tuple | null;
  /** The row after it (null when it deleted it). */
  after: Tuple | null;
  /** The row of the last change: where the key comes from (the new row, or the deleted one). */
  keyRow: Tuple;
  correlationId: string | null;
}

interface WalTransaction {
  commitLsn: string;
  endLsn: string;
  createdAt: string;
  changes: RowChange[];
}

interface Attribute {
  name: string;
  type: string;
  /** The expression of a stored generated column, which pgoutput does not send. */
  generated: string | null;
}

interface WalTable {
  cqrsId: string;
  qualified: string;
  keyColumns: string[];
  attributes: Attribute[];
}

/** A position in the WAL (`16/B374D848`) as a number that orders. */
export function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);

type PgoutputModule = { PgoutputPlugin: new (options: { protoVersion: 1; publicationNames: string[]; messages: boolean }) => Parser };

async function newParser(publication: string): Promise<Parser> {
  const module = await loadPeer<PgoutputModule & { default?: PgoutputModule }>('pg-logical-replication', 'WAL capture (cqrs install --capture wal)');
  const Plugin = module.PgoutputPlugin ?? module.default!.PgoutputPlugin;
  return new Plugin({ protoVersion: 1, publicationNames: [publication], messages: true });
}

// A row as a composite literal of its table's type: the text PostgreSQL gave, quoted.
const compositeLiteral = (row: Tuple, attributes: Attribute[]) =>
  `(${attributes.map(({ name, generated }) => {
    const value = generated ? null : row[name];
    return value === null || value === undefined ? '' : `"${value.replace(/["\\]/g, (c) => c + c)}"`;
  }).join(',')})`;

/** What a WAL batch did. */
export interface WalBatchResult {
  /** Entries published. */
  relayed: number;
  /** Transactions taken from the slot (published, or skipped as published before). */
  transactions: number;
}

/** Reads a schema's slot in batches: see the comment at the top of this file. */
export class WalRelay {
  private parser: Parser | undefined;

  constructor(private readonly setup: CaptureSetup, private readonly messages: MasterMessages, private readonly order: TransactionOrder) {}

  /**
   * Publishes the next batch of the slot's transactions (those committed before `until`, when
   * given), in the master's transaction `em` will open, and advances the slot after its commit.
   */
  async batch(em: EntityManager, transport: Transport, size: number, onPublished?: (messages: CqrsMessage[]) => void | Promise<void>,
    until?: string): Promise<WalBatchResult> {
    this.parser ??= await newParser(this.setup.publication);
    const { slot } = this.setup;
    const result = await inTransaction(em, async (tx): Promise<(WalBatchResult & { position?: string }) | undefined> => {
      const session = await SqlSession.open(tx);
      const schema = ident(defaultSchemaOf(tx));
      // an advisory lock, not a row lock: a poll that finds nothing writes nothing (no WAL of its own to read next time)
      const [state] = await session.query<{ locked: boolean; recorded: string; confirmed: string; flushed: string }>(
        `SELECT pg_try_advisory_xact_lock(hashtext(?)) AS locked, (SELECT lsn::text FROM ${schema}.entity_sync_wal_position WHERE slot = ?) AS recorded, ` +
        `(SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ?) AS confirmed, pg_current_wal_flush_lsn()::text AS flushed`,
        [slot, slot, slot]);
      if (!state?.locked) return undefined;
      const upto = until !== undefined && lsnValue(until) < lsnValue(state.flushed) ? until : state.flushed;
      const recorded = lsnValue(state.recorded ?? '0/0');
      const passed = recorded > lsnValue(state.confirmed) ? recorded : lsnValue(state.confirmed);
      if (lsnValue(upto) <= passed) return { relayed: 0, transactions: 0 };
      const rows = await session.query<{ data: Buffer }>(`SELECT data FROM pg_logical_slot_peek_binary_changes(?, ?::pg_lsn, ?, ` +
        `'proto_version', '1', 'publication_names', ?, 'messages', 'true')`, [slot, upto, size, this.setup.publication]);
      // WAL of other tables only: the slot moves past it, and nothing needs recording
      if (rows.length === 0) return { relayed: 0, transactions: 0, position: upto };
      const transactions = this.decode(rows, await this.tables(session, defaultSchemaOf(tx)));
      // a peek stops at a commit once it has `size` rows: the batch then ends with its last transaction, else where the WAL was
      const reached = rows.length >= size && transactions.length ? transactions.at(-1)!.endLsn : upto;
      // transactions before the recorded position went out before a crash that came before the slot advanced
      const fresh = transactions.filter((transaction) => lsnValue(transaction.commitLsn) >= recorded);
      const batch = fresh.length ? await this.messagesOf(session, tx, schema, fresh) : [];
      if (batch.length) await transport.publish(batch);
      await onPublished?.(batch);
      const position = lsnValue(reached) > recorded ? reached : state.recorded;
      await session.run(`UPDATE ${schema}.entity_sync_wal_position SET lsn = ?::pg_lsn WHERE slot = ?`, [position, slot]);
      return { relayed: fresh.reduce((sum, { changes }) => sum + changes.length, 0), transactions: transactions.length, position };
    });
    if (!result) return { relayed: 0, transactions: 0 };
    if (result.position) await this.advance(em, result.position);
    return { relayed: result.relayed, transactions: result.transactions };
  }

  /**
   * Makes every commit so far readable from the slot: logical decoding reads only WAL that is
   * flushed, which a commit under `synchronous_commit = off` leaves to the WAL writer. One
   * synchronous commit flushes the WAL before it.
   */
  async flush(em: EntityManager): Promise<void> {
    await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx);
      await session.run(`SET LOCAL synchronous_commit = on`);
      await session.run(`UPDATE ${ident(defaultSchemaOf(tx))}.entity_sync_wal_position SET lsn = lsn WHERE slot = ?`, [this.setup.slot]);
    });
  }

  private async advance(em: EntityManager, position: string): Promise<void> {
    await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx);
      await session.query(`SELECT pg_replication_slot_advance(slot_name, ?::pg_lsn) FROM pg_replication_slots ` +
        `WHERE slot_name = ? AND confirmed_flush_lsn < ?::pg_lsn`, [position, this.setup.slot, position]);
    });
  }

  // The master tables with their attributes as they are now (a column added since the change reads as null).
  private async tables(session: SqlSession, schema: string): Promise<Map<string, WalTable>> {
    const masters = [...this.messages.masters.values()];
    const relations = masters.map(({ node }) => `${ident(node.schema && node.schema !== '*' ? node.schema : schema)}.${ident(node.table)}`);
    const rows = await session.query<{ i: number; schema: string; name: string; qualified: string; attributes: Attribute[] }>(
      `SELECT t.i::int AS i, n.nspname AS schema, c.relname AS name, format('%I.%I', n.nspname, c.relname) AS qualified, ` +
      `(SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), ` +
      `'generated', CASE WHEN a.attgenerated = 's' THEN pg_get_expr(d.adbin, d.adrelid) END) ORDER BY a.attnum) ` +
      `FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum ` +
      `WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS attributes ` +
      `FROM unnest(?::text[]) WITH ORDINALITY AS t(relation, i) JOIN pg_class c ON c.oid = to_regclass(t.relation) JOIN pg_namespace n ON n.oid = c.relnamespace`,
      [arrayLiteral(relations)]);
    const tables = new Map<string, WalTable>();
    for (const row of rows) {
      const master = masters[row.i - 1]!;
      tables.set(`${row.schema}.${row.name}`, { cqrsId: master.cqrsId, qualified: row.qualified, keyColumns: master.keyColumns, attributes: row.attributes });
    }
    return tables;
  }

  // pgoutput messages -> transactions of net row changes (one per row, in the order of each row's first change).
  private decode(rows: { data: Buffer }[], tables: Map<string, WalTable>): WalTransaction[] {
    const transactions: WalTransaction[] = [];
    let current: { commitLsn: string; createdAt: string; rows: Map<string, RowChange>; correlationId: string | null } | undefined;
    for (const { data } of rows) {
      const message = this.parser!.parse(data);
      if (message.tag === 'begin') {
        const begin = message as Extract<PgoutputMessage, { tag: 'begin' }>;
        current = { commitLsn: begin.commitLsn!, createdAt: new Date(POSTGRES_EPOCH_MS + Number(BigInt(begin.commitTime) / 1000n)).toISOString(),
          rows: new Map(), correlationId: null };
      } else if (message.tag === 'relation') {
        // values stay PostgreSQL's text: the database turns them into JSON, as the trigger does
        for (const column of (message as Extract<PgoutputMessage, { tag: 'relation' }>).columns) column.parser = (raw) => raw;
      } else if (message.tag === 'message') {
        const emitted = message as Extract<PgoutputMessage, { tag: 'message' }>;
        if (current && emitted.transactional && emitted.prefix === CORRELATION_PREFIX) current.correlationId = Buffer.from(emitted.content).toString('utf8');
      } else if (message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete') {
        const change = message as Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>;
        const table = tables.get(`${change.relation.schema}.${change.relation.name}`);
        if (!current || !table) continue;
        const before = 'old' in change ? change.old ?? change.key : null;
        const after = 'new' in change ? change.new : null;
        const keyRow = (after ?? before)!;
        const id = `${table.qualified}\u0000${table.keyColumns.map((column) => keyRow[column]).join('\u0000')}`;
        const seen = current.rows.get(id);
        if (seen) {
          seen.after = after;
          seen.keyRow = keyRow;
        } else {
          current.rows.set(id, { table, before: change.tag === 'insert' ? null : before, after, keyRow, correlationId: current.correlationId });
        }
      } else if (message.tag === 'commit' && current) {
        const commit = message as Extract<PgoutputMessage, { tag: 'commit' }>;
        transactions.push({ commitLsn: current.commitLsn, endLsn: commit.commitEndLsn!, createdAt: current.createdAt, changes: [...current.rows.values()] });
        current = undefined;
      }
    }
    return transactions;
  }

  // The batch's messages: rows as JSON, revisions counted, in the order trigger capture publishes.
  private async messagesOf(session: SqlSession, em: EntityManager, schema: string, transactions: WalTransaction[]): Promise<CqrsMessage[]> {
    const json = new Map<Tuple, { state: string; key: string }>();
    const byTable = new Map<WalTable, Tuple[]>();
    for (const { changes } of transactions) {
      for (const change of changes) {
        const rows = byTable.get(change.table) ?? [];
        byTable.set(change.table, rows);
        for (const row of [change.before, change.after, change.keyRow]) if (row && !rows.includes(row)) rows.push(row);
      }
    }
    for (const [table, rows] of byTable) {
      const names = table.attributes.map(({ name }) => ident(name));
      const values = table.attributes.map(({ name, type, generated }) => generated ? `(${generated})::${type} AS ${ident(name)}` : ident(name));
      const converted = await session.query<{ state: string; key: string }>(
        `SELECT to_jsonb(x)::text AS state, jsonb_build_array(${table.keyColumns.map((column) => `x.${ident(column)}`).join(', ')})::text AS key ` +
        `FROM unnest(?::${table.qualified}[]) WITH ORDINALITY AS u(${names.join(', ')}, entity_sync_n) ` +
        `CROSS JOIN LATERAL (SELECT ${values.join(', ')}) x ORDER BY u.entity_sync_n`,
        [arrayLiteral(rows.map((row) => compositeLiteral(row, table.attributes)))]);
      rows.forEach((row, i) => json.set(row, converted[i]!));
    }
    const entries = transactions.flatMap((transaction, t) => transaction.changes.map((change) => ({ transaction, t, change, key: json.get(change.keyRow)!.key })));
    const counted = await session.query<{ cqrs_id: string; key: string; revision: string }>(
      `INSERT INTO ${schema}.entity_sync_revision AS r (cqrs_id, key, revision) SELECT e.cqrs_id, e.key::jsonb, count(*) ` +
      `FROM unnest(?::text[], ?::text[]) AS e(cqrs_id, key) GROUP BY 1, 2 ` +
      `ON CONFLICT (cqrs_id, key) DO UPDATE SET revision = r.revision + excluded.revision RETURNING cqrs_id, key::text AS key, revision::text AS revision`,
      [arrayLiteral(entries.map(({ change }) => change.table.cqrsId)), arrayLiteral(entries.map(({ key }) => key))]);
    const next = new Map<string, number>();
    for (const row of counted) next.set(`${row.cqrs_id}\u0000${row.key}`, Number(row.revision));
    for (const { change, key } of entries) {
      const id = `${change.table.cqrsId}\u0000${key}`;
      next.set(id, next.get(id)! - 1);
    }
    const ordered = entries.map(({ transaction, t, change, key }, position) => {
      const id = `${change.table.cqrsId}\u0000${key}`;
      const revision = next.get(id)! + 1;
      next.set(id, revision);
      const digits = this.messages.masters.get(change.table.cqrsId)?.digitColumns ?? new Set<string>();
      const state = change.after ? exactRow(json.get(change.after)!.state, digits) : null;
      const previous = change.before ? exactRow(json.get(change.before)!.state, digits) : null;
      const keyValues = JSON.parse(key) as unknown[];
      const captured: CapturedChange = {
        cqrsId: change.table.cqrsId, key: keyValues, operation: state ? 'save' : 'delete', revision, state, previous,
        correlationId: change.correlationId, createdAt: transaction.createdAt,
      };
      return { id: String(position + 1), tx: String(t), cqrsId: change.table.cqrsId, key: keyValues, state, previous, change: captured };
    });
    const batch: CqrsMessage[] = [];
    for (const { change } of this.order.order(ordered)) {
      const message = await this.messages.toMessage(change, em);
      if (message) batch.push(message);
    }
    return batch;
  }
}
