import { CqrsError, type CqrsMessage, type Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { randomUUID } from 'node:crypto';
import { acquireDriverConnection, defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { loadPeer } from '../../../internal/peer.js';
import { arrayLiteral, ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { exactRow } from '../master/exact-values.js';
import type { CapturedChange, MasterMessages } from '../master/master-messages.js';
import { CORRELATION_PREFIX, type CaptureSetup } from '../master/wal-capture.js';
import type { TransactionOrder } from './transaction-order.js';

// The relay's side of WAL capture. The relay streams the slot's committed transactions over a
// replication connection (pgoutput, read with pg-logical-replication; values in PostgreSQL's
// text form). It keeps per transaction and row one change with its final state and the row as
// it was before the transaction; then, a batch of transactions at a time, in one transaction of
// the master database: it turns the rows into `to_jsonb` text in the database (the same text the
// capture trigger writes, generated columns computed again), counts each row's revision in
// `entity_sync_revision` (so the repair tools read the same revisions in both modes),
// publishes in the order trigger capture publishes, and records where the batch ends. Only after
// that commit does it confirm the batch to the slot. A crash before the commit publishes the
// batch again with the same revisions (replicas drop the duplicates); a crash after it leaves
// transactions in the slot that the recorded position skips. A slot serves one relay at a
// time: another one fails to start streaming and retries with the relay's backoff.

interface RelationColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  parser: (raw: string) => unknown;
}

interface Relation {
  schema: string;
  name: string;
  columns: RelationColumn[];
}

type Tuple = Record<string, string | null>;

type PgoutputMessage =
  // commitTime: microseconds since 1970 (pg-logical-replication moves PostgreSQL's 2000 epoch)
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
  oid: number;
  mod: number;
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
function lsnValue(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

interface ReplicationService {
  on(event: 'data', listener: (lsn: string, message: PgoutputMessage) => Promise<void>): void;
  on(event: 'heartbeat', listener: (lsn: string, timestamp: number, shouldRespond: boolean) => void): void;
  on(event: 'start', listener: () => void): void;
  on(event: 'error', listener: (error: Error) => void): void;
  subscribe(plugin: Parser, slot: string): Promise<unknown>;
  acknowledge(lsn: string): Promise<boolean>;
  stop(): Promise<unknown>;
}

type PgoutputModule = {
  PgoutputPlugin: new (options: { protoVersion: 1; publicationNames: string[]; messages: boolean }) => Parser;
  LogicalReplicationService: new (config: object, options: object) => ReplicationService;
};

async function replicationModule(): Promise<PgoutputModule> {
  const module = await loadPeer<PgoutputModule & { default?: PgoutputModule }>('pg-logical-replication', 'WAL capture (cqrs install --capture wal)');
  return module.PgoutputPlugin ? module : module.default!;
}

// A pgoutput parser whose values stay PostgreSQL's text: the database turns them into JSON, as the
// trigger does. The stream parses a message when it arrives, before its handler runs, so the
// columns of a relation get their text "parser" as the relation itself is parsed.
function textParser(module: PgoutputModule, publication: string): Parser {
  const plugin = new module.PgoutputPlugin({ protoVersion: 1, publicationNames: [publication], messages: true });
  const parse = plugin.parse.bind(plugin);
  plugin.parse = (buffer: Buffer) => {
    const message = parse(buffer);
    if (message.tag === 'relation') for (const column of (message as Extract<PgoutputMessage, { tag: 'relation' }>).columns) column.parser = (raw) => raw;
    return message;
  };
  return plugin;
}

const lsnText = (value: bigint) => `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffffffffn).toString(16).toUpperCase()}`;

// The connection settings of the ORM's pool, for the replication connection.
async function connectionConfig(em: EntityManager): Promise<object> {
  const acquired = await acquireDriverConnection(em);
  try {
    const { host, port, user, password, database, ssl } = (acquired.connection as { connectionParameters: Record<string, unknown> }).connectionParameters;
    return { host, port, user, password, database, ssl };
  } finally {
    await acquired.release();
  }
}

const MARKER_PREFIX = 'entity_sync.marker';
const HEARTBEAT_MS = 10_000;

// The database's refusals that say what to do about the slot: another reader has it, or it is lost.
function slotError(slot: string, error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  if (code === '55006') return CqrsError.slotInUse(slot, error);
  if (code === '55000' && /can no longer get changes|cannot read from logical replication slot/.test(message ?? '')) return CqrsError.slotLost(slot, error);
  return error;
}

// Where the relay recorded its last published batch's end, and where the slot was last confirmed.
async function positions(session: SqlSession, schema: string, slot: string): Promise<{ recorded: bigint; confirmed: bigint }> {
  const [row] = await session.query<{ recorded: string | null; confirmed: string | null }>(
    `SELECT (SELECT lsn::text FROM ${ident(schema)}.entity_sync_wal_position WHERE slot = ?) AS recorded, ` +
    `(SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ?) AS confirmed`, [slot, slot]);
  return { recorded: lsnValue(row?.recorded ?? '0/0'), confirmed: lsnValue(row?.confirmed ?? '0/0') };
}

// The transactions with changes that no batch published yet: those before the recorded position went out
// before a crash that came before the slot was confirmed.
const unpublished = <T extends WalTransaction>(transactions: T[], recorded: bigint): T[] =>
  transactions.filter((t) => t.changes.length > 0 && lsnValue(t.commitLsn) >= recorded);

/** Options of `WalRelay.stream`. */
export interface WalStreamOptions {
  /** Row changes per published batch (whole transactions; at least one). */
  batchSize: number;
  onPublished?: (messages: CqrsMessage[]) => void | Promise<void>;
  /** Told the entries of every published batch. */
  onRelayed?: (entries: number) => void;
  /** End once what was committed when the stream started is published (else run until `stop()`). */
  once: boolean;
  /** Told when the server streams (the slot is read from here on). */
  onStreaming?: () => void;
}

// The columns each row had when it was written, as its relation message described them: a change the
// slot held while columns were added or dropped goes out with the columns it had, as the trigger saw them.
const columnsOf = new WeakMap<Tuple, RelationColumn[]>();

// A row's change joins the row's net change in its transaction (one per row, in the order of each row's first change).
function addChange(transaction: { rows: Map<string, RowChange>; correlationId: string | null }, table: WalTable,
  change: Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>): void {
  const before = 'old' in change ? change.old ?? change.key : null;
  const after = 'new' in change ? change.new : null;
  for (const row of [before, after]) if (row) columnsOf.set(row, change.relation.columns);
  const keyRow = (after ?? before)!;
  const id = `${table.qualified}\u0000${table.keyColumns.map((column) => keyRow[column]).join('\u0000')}`;
  const seen = transaction.rows.get(id);
  if (seen) {
    seen.after = after;
    seen.keyRow = keyRow;
  } else {
    transaction.rows.set(id, { table, before: change.tag === 'insert' ? null : before, after, keyRow, correlationId: transaction.correlationId });
  }
}

/** Streams a schema's slot: see the comment at the top of this file. */
export class WalRelay {
  private end: (() => void) | undefined;
  // type names of columns the tables no longer have as the stream describes them, by type oid and modifier
  private readonly formerTypes = new Map<string, string>();

  constructor(private readonly setup: CaptureSetup, private readonly messages: MasterMessages, private readonly order: TransactionOrder) {}

  /** Ends a running `stream` after the batch in flight. */
  stop(): void {
    this.end?.();
  }

  /**
   * Streams the slot and publishes its transactions in batches; resolves with the entries
   * published when stopped (or, with `once`, when caught up), rejects when the stream fails.
   */
  async stream(em: EntityManager, transport: Transport, options: WalStreamOptions): Promise<number> {
    const module = await replicationModule();
    const schema = defaultSchemaOf(em);
    const { slot } = this.setup;
    const start = await inTransaction(em, async (tx) => positions(await SqlSession.open(tx), schema, slot));
    let recorded = start.recorded;
    const byRelation = this.relations(schema);
    const service = new module.LogicalReplicationService(await connectionConfig(em), { acknowledge: { auto: false, timeoutSeconds: 0 }, flowControl: { enabled: true } });
    const marker = options.once ? randomUUID() : undefined;
    let confirmed = start.confirmed;
    let tables: Map<string, WalTable> | undefined;
    const pending: (WalTransaction & { marker: boolean })[] = [];
    let publishing: Promise<void> | undefined;
    let relayed = 0;
    let settled = false;
    let heartbeat: NodeJS.Timeout | undefined;
    // the server streams to this relay: the slot is this relay's until its connection ends
    let holding = false;
    // pg-logical-replication confirms the position after the one it is given: one before the end
    const confirm = (end: bigint) => {
      if (end <= confirmed) return Promise.resolve();
      confirmed = end;
      return service.acknowledge(lsnText(end - 1n));
    };
    const emitMarker = (content: string, flush: boolean) => inTransaction(em.fork(), async (tx) => {
      const session = await SqlSession.open(tx);
      if (flush) await session.run('SET LOCAL synchronous_commit = on');
      await session.query(`SELECT pg_logical_emit_message(true, '${MARKER_PREFIX}', ?)`, [content]);
    });
    const released = () => inTransaction(em.fork(), async (tx) => {
      const session = await SqlSession.open(tx);
      for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
        const [row] = await session.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = ?', [slot]);
        if (!row?.active) return;
      }
    });
    return new Promise<number>((resolve, reject) => {
      const finish = (error?: unknown) => {
        if (settled) return;
        settled = true;
        clearInterval(heartbeat);
        this.end = undefined;
        void (async () => {
          await publishing?.catch(() => undefined);
          await service.stop().catch(() => undefined);
          // the server reads what was sent before the connection closed (the last confirmation) when it gets to it: once
          // it released the slot, the slot says what was confirmed, and another relay can stream it
          if (holding) await released().catch(() => undefined);
          if (error === undefined) resolve(relayed);
          else reject(error);
        })();
      };
      this.end = () => finish();
      const publishPending = () => {
        if (publishing || settled) return;
        publishing = (async () => {
          while (pending.length && !settled) {
            const batch = [pending.shift()!];
            for (let changes = batch[0]!.changes.length; pending.length && changes < options.batchSize; changes += batch.at(-1)!.changes.length) batch.push(pending.shift()!);
            const fresh = unpublished(batch, recorded);
            const end = lsnValue(batch.at(-1)!.endLsn);
            if (fresh.length) {
              tables ??= await inTransaction(em.fork(), async (tx) => this.tables(await SqlSession.open(tx), schema));
              const entries = await this.publish(em.fork(), transport, tables, fresh, end, options.onPublished);
              recorded = end;
              relayed += entries;
              options.onRelayed?.(entries);
            }
            await confirm(end);
            if (batch.some((t) => t.marker)) return finish();
          }
        })().then(() => {
          publishing = undefined;
          if (pending.length) publishPending();
        }, (error: unknown) => {
          publishing = undefined;
          finish(error);
        });
      };
      const assembler = new TransactionAssembler(byRelation, marker);
      service.on('data', async (_lsn, message) => {
        if (settled) return;
        if (message.tag === 'relation') tables = undefined;
        const transaction = assembler.add(message);
        if (!transaction) return;
        pending.push(transaction);
        publishPending();
        // the stream waits while this many changes wait for their batch
        if (pending.reduce((sum, t) => sum + t.changes.length, 0) >= options.batchSize * 4) await publishing;
      });
      // a keepalive that asks for an answer gets the position confirmed so far (else the server ends the stream)
      service.on('heartbeat', (_lsn, _time, shouldRespond) => {
        if (shouldRespond) void service.acknowledge(lsnText((confirmed > 0n ? confirmed : 1n) - 1n)).catch(() => undefined);
      });
      service.on('error', (error) => finish(error));
      service.on('start', () => {
        holding = true;
        options.onStreaming?.();
        // once: a marker committed now (synchronously, which flushes the WAL before it) says where "now" is;
        // running: one every few seconds lets the slot move on past WAL that holds no master change
        if (marker) emitMarker(marker, true).catch(finish);
        else heartbeat = setInterval(() => void emitMarker('heartbeat', false).catch(() => undefined), HEARTBEAT_MS);
      });
      service.subscribe(this.parser(module), slot).then(() => finish(settled ? undefined : new Error(`the replication stream of slot ${slot} ended`)),
        (error: unknown) => finish(slotError(slot, error)));
    });
  }

  private parser(module: PgoutputModule): Parser {
    return textParser(module, this.setup.publication);
  }

  // Each master's table by its schema-qualified name, as pgoutput names relations.
  private relations(schema: string): Map<string, WalTable> {
    const tables = new Map<string, WalTable>();
    for (const master of this.messages.masters.values()) {
      const tableSchema = master.node.schema && master.node.schema !== '*' ? master.node.schema : schema;
      tables.set(`${tableSchema}.${master.node.table}`, { cqrsId: master.cqrsId, qualified: `${ident(tableSchema)}.${ident(master.node.table)}`, keyColumns: master.keyColumns, attributes: [] });
    }
    return tables;
  }

  // One batch in one transaction of the master: messages, publish, the recorded position.
  private async publish(em: EntityManager, transport: Transport, tables: Map<string, WalTable>, transactions: WalTransaction[], end: bigint,
    onPublished?: (messages: CqrsMessage[]) => void | Promise<void>): Promise<number> {
    return inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx);
      const schema = ident(defaultSchemaOf(tx));
      const batch = await this.messagesOf(session, tx, schema, tables, transactions);
      if (batch.length) await transport.publish(batch);
      await onPublished?.(batch);
      await session.run(`UPDATE ${schema}.entity_sync_wal_position SET lsn = ?::pg_lsn WHERE slot = ?`, [lsnText(end), this.setup.slot]);
      return transactions.reduce((sum, { changes }) => sum + changes.length, 0);
    });
  }

  // The master tables with their attributes as they are now: the types of their columns, and the generated ones.
  private async tables(session: SqlSession, schema: string): Promise<Map<string, WalTable>> {
    const masters = [...this.messages.masters.values()];
    const relations = masters.map(({ node }) => `${ident(node.schema && node.schema !== '*' ? node.schema : schema)}.${ident(node.table)}`);
    const rows = await session.query<{ i: number; schema: string; name: string; qualified: string; attributes: Attribute[] }>(
      `SELECT t.i::int AS i, n.nspname AS schema, c.relname AS name, format('%I.%I', n.nspname, c.relname) AS qualified, ` +
      `(SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'oid', a.atttypid, 'mod', a.atttypmod, ` +
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

  // The transactions' row changes with their rows as `to_jsonb` text and their revisions counted, in order.
  private async counted(session: SqlSession, schema: string, tables: Map<string, WalTable>, transactions: WalTransaction[]): Promise<CountedChange[]> {
    const json = new Map<Tuple, { state: string; key: string }>();
    // each table's rows by shape (the relation message that described them), each row once: one statement per shape
    const byTable = new Map<WalTable, Map<RelationColumn[], Set<Tuple>>>();
    for (const { changes } of transactions) {
      for (const change of changes) {
        let shapes = byTable.get(change.table);
        if (!shapes) byTable.set(change.table, shapes = new Map());
        for (const row of [change.before, change.after, change.keyRow]) {
          if (!row) continue;
          const columns = columnsOf.get(row)!;
          let shaped = shapes.get(columns);
          if (!shaped) shapes.set(columns, shaped = new Set());
          shaped.add(row);
        }
      }
    }
    const attributes = new Map([...tables.values()].map((table) => [table.cqrsId, table.attributes]));
    for (const [table, shapes] of byTable) {
      const current = attributes.get(table.cqrsId) ?? [];
      for (const [columns, rowSet] of shapes) {
        const shaped = [...rowSet];
        const types = await this.typeNames(session, columns, current);
        const values = columns.map(({ name }, i) => `(u.entity_sync_r->>${i})::${types[i]} AS ${ident(name)}`);
        // a stored generated column, which pgoutput does not send, is computed again from the row
        const generated = current.filter((attribute) => attribute.generated && !columns.some(({ name }) => name === attribute.name));
        const row = generated.length
          ? `(SELECT ${[...columns.map(({ name }) => `y.${ident(name)}`), ...generated.map(({ name, type, generated: expression }) => `(${expression})::${type} AS ${ident(name)}`)].join(', ')} ` +
            `FROM (SELECT ${values.join(', ')}) y)`
          : `(SELECT ${values.join(', ')})`;
        const converted = await session.query<{ state: string; key: string }>(
          `SELECT to_jsonb(x)::text AS state, jsonb_build_array(${table.keyColumns.map((column) => `x.${ident(column)}`).join(', ')})::text AS key ` +
          `FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS u(entity_sync_r, entity_sync_n) CROSS JOIN LATERAL ${row} x ORDER BY u.entity_sync_n`,
          [JSON.stringify(shaped.map((tuple) => columns.map(({ name }) => tuple[name] ?? null)))]);
        shaped.forEach((tuple, i) => json.set(tuple, converted[i]!));
      }
    }
    const entries = transactions.flatMap((transaction, t) => transaction.changes.map((change) => ({ transaction, t, change, key: json.get(change.keyRow)!.key })));
    const revisions = await session.query<{ cqrs_id: string; key: string; revision: string }>(
      `INSERT INTO ${schema}.entity_sync_revision AS r (cqrs_id, key, revision) SELECT e.cqrs_id, e.key::jsonb, count(*) ` +
      `FROM unnest(?::text[], ?::text[]) AS e(cqrs_id, key) GROUP BY 1, 2 ` +
      `ON CONFLICT (cqrs_id, key) DO UPDATE SET revision = r.revision + excluded.revision RETURNING cqrs_id, key::text AS key, revision::text AS revision`,
      [arrayLiteral(entries.map(({ change }) => change.table.cqrsId)), arrayLiteral(entries.map(({ key }) => key))]);
    // the last change of a row in the batch has the revision counted; the ones before it count up to it
    const next = new Map<string, number>();
    for (const row of revisions) next.set(`${row.cqrs_id}\u0000${row.key}`, Number(row.revision));
    for (const { change, key } of entries) {
      const id = `${change.table.cqrsId}\u0000${key}`;
      next.set(id, next.get(id)! - 1);
    }
    return entries.map(({ transaction, t, change, key }) => {
      const id = `${change.table.cqrsId}\u0000${key}`;
      const revision = next.get(id)! + 1;
      next.set(id, revision);
      return { transaction, t, change, key, revision, state: change.after && json.get(change.after)!.state, previous: change.before && json.get(change.before)!.state };
    });
  }

  // The SQL type of each column as the relation message has it: the table's, unless the column was dropped or changed type since.
  private async typeNames(session: SqlSession, columns: RelationColumn[], current: Attribute[]): Promise<string[]> {
    const id = ({ typeOid, typeMod }: RelationColumn) => `${typeOid}:${typeMod}`;
    const names = columns.map((column) => current.find(({ name, oid, mod }) => name === column.name && oid === column.typeOid && mod === column.typeMod)?.type
      ?? this.formerTypes.get(id(column)));
    const missing = columns.filter((_, i) => names[i] === undefined);
    if (missing.length) {
      const rows = await session.query<{ type: string }>('SELECT format_type(t.oid, t.mod) AS type FROM unnest(?::oid[], ?::int[]) WITH ORDINALITY AS t(oid, mod, i) ORDER BY t.i',
        [arrayLiteral(missing.map(({ typeOid }) => String(typeOid))), arrayLiteral(missing.map(({ typeMod }) => String(typeMod)))]);
      missing.forEach((column, i) => this.formerTypes.set(id(column), rows[i]!.type));
    }
    return columns.map((column, i) => names[i] ?? this.formerTypes.get(id(column))!);
  }

  // The batch's messages, in the order trigger capture publishes.
  private async messagesOf(session: SqlSession, em: EntityManager, schema: string, tables: Map<string, WalTable>, transactions: WalTransaction[]): Promise<CqrsMessage[]> {
    const ordered = (await this.counted(session, schema, tables, transactions)).map(({ transaction, t, change, key, revision, state: stateText, previous: previousText }, position) => {
      const digits = this.messages.masters.get(change.table.cqrsId)?.digitColumns ?? new Set<string>();
      const state = stateText ? exactRow(stateText, digits) : null;
      const previous = previousText ? exactRow(previousText, digits) : null;
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

  /**
   * Moves the changes the slot holds into the outbox, as outbox entries with their revisions, in
   * the transaction `session` is in (the install that brings the triggers back, with the master
   * tables locked against writes): the trigger's revisions of later changes then come after them.
   * Throws CQRS_SLOT_IN_USE while a relay streams the slot. Returns the entries moved.
   */
  async moveToOutbox(session: SqlSession, schema: string): Promise<number> {
    const { slot, publication } = this.setup;
    // decoding reads flushed WAL only; the writes before the lock may still wait for the WAL writer
    const [{ written }] = await session.query<{ written: string }>('SELECT pg_current_wal_insert_lsn()::text AS written') as [{ written: string }];
    for (let wait = 0; wait < 100; wait++) {
      const [{ flushed }] = await session.query<{ flushed: string }>('SELECT pg_current_wal_flush_lsn()::text AS flushed') as [{ flushed: string }];
      if (lsnValue(flushed) >= lsnValue(written)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const rows = await session.query<{ data: Buffer }>(`SELECT data FROM pg_logical_slot_peek_binary_changes(?, ?::pg_lsn, NULL, ` +
      `'proto_version', '1', 'publication_names', ?, 'messages', 'true')`, [slot, written, publication]).catch((error: unknown) => {
      throw slotError(slot, error);
    });
    if (!rows.length) return 0;
    const parser = textParser(await replicationModule(), publication);
    const assembler = new TransactionAssembler(this.relations(schema));
    const transactions: WalTransaction[] = [];
    for (const { data } of rows) {
      const transaction = assembler.add(parser.parse(data));
      if (transaction?.changes.length) transactions.push(transaction);
    }
    const fresh = unpublished(transactions, (await positions(session, schema, slot)).recorded);
    if (!fresh.length) return 0;
    const entries = await this.counted(session, ident(schema), await this.tables(session, schema), fresh);
    await session.run(`INSERT INTO ${ident(schema)}.entity_sync_outbox (tx, cqrs_id, key, operation, revision, state, previous, correlation_id, created_at) ` +
      'SELECT -e.t, e.cqrs_id, e.key::jsonb, e.operation, e.revision, e.state::jsonb, e.previous::jsonb, e.correlation_id, e.created_at::timestamptz ' +
      'FROM jsonb_to_recordset(?::jsonb) AS e(n int, t bigint, cqrs_id text, key text, operation text, revision bigint, state text, previous text, correlation_id text, created_at text) ' +
      'ORDER BY e.n', [JSON.stringify(entries.map(({ t, change, key, revision, state, previous, transaction }, n) => ({
      n, t: t + 1, cqrs_id: change.table.cqrsId, key, operation: state ? 'save' : 'delete', revision, state, previous, correlation_id: change.correlationId,
      created_at: transaction.createdAt,
    })))]);
    return entries.length;
  }
}

/** A change with its rows as `to_jsonb` text and its revision. */
interface CountedChange {
  transaction: WalTransaction;
  /** The transaction's place in the batch. */
  t: number;
  change: RowChange;
  key: string;
  revision: number;
  state: string | null;
  previous: string | null;
}

/** Builds the transactions of a stream of pgoutput messages: one net change per row, in the order of each row's first change. */
class TransactionAssembler {
  private current: { commitLsn: string; createdAt: string; rows: Map<string, RowChange>; correlationId: string | null; marker: boolean } | undefined;

  constructor(private readonly relations: Map<string, WalTable>, private readonly marker?: string) {}

  /** Takes the next message; returns the transaction a commit completes. */
  add(message: PgoutputMessage): (WalTransaction & { marker: boolean }) | undefined {
    const current = this.current;
    if (message.tag === 'begin') {
      const begin = message as Extract<PgoutputMessage, { tag: 'begin' }>;
      this.current = { commitLsn: begin.commitLsn!, createdAt: new Date(Number(BigInt(begin.commitTime) / 1000n)).toISOString(), rows: new Map(), correlationId: null, marker: false };
    } else if (message.tag === 'message' && current) {
      const emitted = message as Extract<PgoutputMessage, { tag: 'message' }>;
      const content = Buffer.from(emitted.content).toString('utf8');
      if (emitted.transactional && emitted.prefix === CORRELATION_PREFIX) current.correlationId = content;
      if (emitted.prefix === MARKER_PREFIX && content === this.marker) current.marker = true;
    } else if ((message.tag === 'insert' || message.tag === 'update' || message.tag === 'delete') && current) {
      const change = message as Extract<PgoutputMessage, { tag: 'insert' | 'update' | 'delete' }>;
      const table = this.relations.get(`${change.relation.schema}.${change.relation.name}`);
      if (table) addChange(current, table, change);
    } else if (message.tag === 'commit' && current) {
      const commit = message as Extract<PgoutputMessage, { tag: 'commit' }>;
      this.current = undefined;
      return { commitLsn: current.commitLsn, endLsn: commit.commitEndLsn!, createdAt: current.createdAt, changes: [...current.rows.values()], marker: current.marker };
    }
    return undefined;
  }
}
