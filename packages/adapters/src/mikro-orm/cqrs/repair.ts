import { EntitySyncError, parseCqrsMessage, type CqrsMessage, type Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, findKeysByCursor, inTransaction } from '../compat.js';
import { ident, SqlSession } from '../graph/sql-session.js';
import { MasterMessages, type MasterEntity } from './master-messages.js';
import { installReplica } from './replica-applier.js';
import { applyBatch, joinOn, keyRecord, replicaTarget } from './replica-batch.js';

// The repair tools of CQRS replication. They talk across processes through NDJSON line streams
// (one string per line, without its newline): a dump (`dumpMaster` -> `loadReplica`) and a
// diff (`diffMaster` -> `diffReplica` -> `diffSync`). Every stream starts with a header line and
// ends with an end line, so that a file cut short is refused instead of half applied.

const DUMP_FORMAT = 'entity-sync-cqrs-dump';
const DIFF_FORMAT = 'entity-sync-cqrs-diff';
const FORMAT_VERSION = 1;
const DEFAULT_BATCH = 500;

/** What every repair tool accepts besides its own options. */
export interface RepairOptions {
  /** Rows per page, statement and published batch. Default 500. */
  batchSize?: number;
  /** Aborts between statements; the transaction is rolled back. */
  signal?: AbortSignal;
}

/** Options of `dumpMaster`. */
export interface DumpMasterOptions extends RepairOptions {
  cqrsId: string;
  /** A MikroORM filter of the master entity (`{ id: { $in: [1, 2] } }`): only these rows are dumped. */
  filter?: object;
}

/** Options of `loadReplica`. */
export interface LoadReplicaOptions extends RepairOptions {
  /** Called after each batch with the number of messages read so far. */
  onProgress?: (read: number) => void;
}

/** What `loadReplica` did: messages applied, and messages the revision guard skipped (the replica had a newer revision). */
export interface LoadReplicaResult {
  applied: number;
  skipped: number;
}

/** Options of `syncMaster`. */
export interface SyncMasterOptions extends RepairOptions {
  cqrsId: string;
  /** A MikroORM filter of the master entity: only these rows are published. */
  filter?: object;
  /** Publish to this replica queue only, instead of to every replica. */
  queue?: string;
  /** Called after each published batch with the number of messages published so far. */
  onProgress?: (published: number) => void;
}

/** Options of `diffMaster`. */
export interface DiffMasterOptions extends RepairOptions {
  cqrsId: string;
}

/** Options of `diffSync`. */
export interface DiffSyncOptions extends RepairOptions {
  /** Publish to this replica queue only (the replica the diff was taken on), instead of to every replica. */
  queue?: string;
  /** Called after each published batch with the number of messages published so far. */
  onProgress?: (published: number) => void;
}

/** What `diffSync` published: current states of missing and stale rows, and deletes of rows the master does not have. */
export interface DiffSyncResult {
  republished: number;
  deleted: number;
}

/** How a replica row differs from the master: absent, behind the master's revision, or not on the master at all. */
export type DiffKind = 'missing' | 'stale' | 'extra';

const DIFF_KINDS: readonly DiffKind[] = ['missing', 'stale', 'extra'];

// ---------------------------------------------------------------------------------------------
// Line streams

type StreamKind = 'dump' | 'diff';

const remedy: Record<StreamKind, string> = {
  dump: 'Nothing was loaded. Write the dump again with dumpMaster and load the whole file (a file without its end line was cut short).',
  diff: 'Nothing was repaired. Run the diff again from diffMaster and pass on the whole stream (a stream without its end line was cut short).',
};

function invalid(kind: StreamKind, why: string, line?: number, cause?: unknown): EntitySyncError {
  return new EntitySyncError('CQRS_DUMP_INVALID', `Invalid CQRS ${kind} stream${line ? ` at line ${line}` : ''}: ${why}. ${remedy[kind]}`,
    { info: { line, why }, cause });
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads non-blank lines and counts them, so that errors can name the line. */
class LineReader {
  line = 0;
  private readonly iterator: AsyncIterator<string>;

  constructor(lines: AsyncIterable<string>, private readonly kind: StreamKind) {
    this.iterator = lines[Symbol.asyncIterator]();
  }

  /** The next non-blank line, or undefined at the end of the input. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const result = await this.iterator.next();
      if (result.done) return undefined;
      this.line += 1;
      const text = String(result.value).trim();
      if (text !== '') return text;
    }
  }

  /** The next line parsed as a JSON object; CQRS_DUMP_INVALID when there is none or it is not one. */
  async object(expected: string): Promise<{ text: string; value: Record<string, unknown> }> {
    const text = await this.next();
    if (text === undefined) throw invalid(this.kind, `it ends before ${expected}`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const hint = text.includes('\n') ? ' (each item of the input must be one line: split the file with readline)' : '';
      throw invalid(this.kind, `the line is not JSON${hint}`, this.line, error);
    }
    if (!isRecord(value)) throw invalid(this.kind, `expected ${expected}, found ${text.slice(0, 80)}`, this.line);
    return { text, value };
  }

  /** Fails unless the input has nothing more after the end line. */
  async finish(): Promise<void> {
    if (await this.next() !== undefined) throw invalid(this.kind, 'there are lines after the end line', this.line);
  }
}

interface StreamHeader {
  text: string;
  cqrsId: string;
}

function streamHeader(format: string, cqrsId: string): string {
  return JSON.stringify({ format, version: FORMAT_VERSION, cqrsId, createdAt: new Date().toISOString() });
}

async function readHeader(reader: LineReader, kind: StreamKind, format: string): Promise<StreamHeader> {
  const { text, value } = await reader.object('the header line');
  if (value.format !== format) {
    throw invalid(kind, `the header names format ${JSON.stringify(value.format)}, expected ${JSON.stringify(format)}`, reader.line);
  }
  if (value.version !== FORMAT_VERSION) {
    throw invalid(kind, `format version ${JSON.stringify(value.version)} is not understood (this release reads ${FORMAT_VERSION}); upgrade entity-sync`, reader.line);
  }
  if (typeof value.cqrsId !== 'string' || value.cqrsId === '') throw invalid(kind, 'the header has no cqrsId', reader.line);
  return { text, cqrsId: value.cqrsId };
}

function checkKey(kind: StreamKind, key: unknown, length: number, line: number): unknown[] {
  if (!Array.isArray(key) || key.length !== length || key.some((part) => part === null || typeof part === 'object')) {
    throw invalid(kind, `key ${JSON.stringify(key)} is not ${length} primary-key value${length > 1 ? 's' : ''}`, line);
  }
  return key;
}

const isRevision = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

// COPY text format: backslash, tab, newline and carriage return are escaped.
function copyText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

const HIGH_WATER = 1000;

/**
 * Runs `work` in one transaction and hands the lines it emits to the consumer as they come,
 * holding the producer back while the consumer is behind: the stream reads one snapshot and
 * never holds a whole table in memory. Leaving the loop early rolls the transaction back.
 */
function linesFromTransaction(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: (line: string) => Promise<void>) => Promise<void>): AsyncIterable<string> {
  return {
    async *[Symbol.asyncIterator]() {
      const buffered: string[] = [];
      const cancelled = new Error('the consumer stopped reading');
      let stopped = false;
      let finished = false;
      let failure: { error: unknown } | undefined;
      let wakeConsumer: (() => void) | undefined;
      let wakeProducer: (() => void) | undefined;
      const emit = async (line: string) => {
        if (stopped) throw cancelled;
        buffered.push(line);
        wakeConsumer?.();
        if (buffered.length >= HIGH_WATER) await new Promise<void>((resolve) => { wakeProducer = resolve; });
        if (stopped) throw cancelled;
      };
      const running = inTransaction(em, (tx) => work(tx, emit), isolation).then(
        () => { finished = true; },
        (error: unknown) => { failure = { error }; finished = true; },
      ).finally(() => wakeConsumer?.());
      try {
        for (;;) {
          if (buffered.length > 0) {
            const batch = buffered.splice(0);
            wakeProducer?.();
            wakeProducer = undefined;
            yield* batch;
          } else if (finished) {
            if (failure) throw failure.error;
            return;
          } else {
            await new Promise<void>((resolve) => { wakeConsumer = resolve; });
            wakeConsumer = undefined;
          }
        }
      } finally {
        if (!finished) {
          stopped = true;
          wakeProducer?.();
          await running;
        }
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// ---------------------------------------------------------------------------------------------
// SQL over primary keys

const keyArray = (alias: string, columns: string[]) => `jsonb_build_array(${columns.map((c) => `${alias}.${ident(c)}`).join(', ')})`;
const keyObject = (alias: string, columns: string[]) =>
  `jsonb_build_object(${columns.map((c) => `'${c.replace(/'/g, "''")}', ${alias}.${ident(c)}`).join(', ')})`;
const keyTuple = (alias: string, columns: string[]) => columns.map((c) => `${alias}.${ident(c)}`).join(', ');
interface Relation {
  sql: string;
  params: unknown[];
}

/** `(key, revision)` of the rows of `cqrsId` in a revision table, or no rows when the table does not exist. */
async function revisionsOf(session: SqlSession, table: string, cqrsId: string): Promise<Relation> {
  const [found] = await session.query<{ present: boolean }>('SELECT to_regclass(?) IS NOT NULL AS present', [table]);
  return found?.present
    ? { sql: `(SELECT key, revision FROM ${table} WHERE cqrs_id = ?)`, params: [cqrsId] }
    : { sql: '(SELECT NULL::jsonb AS key, NULL::bigint AS revision WHERE false)', params: [] };
}

interface MasterSource {
  master: MasterEntity;
  qualified: string;
  /** Primary-key columns in the order the capture trigger records keys. */
  keyColumns: string[];
  revisionTable: string;
  revisions: Relation;
}

async function masterSource(tx: EntityManager, session: SqlSession, messages: MasterMessages, cqrsId: string): Promise<MasterSource> {
  const master = messages.master(cqrsId);
  const schema = defaultSchemaOf(tx);
  const revisionTable = `${ident(schema)}.entity_sync_revision`;
  return {
    master,
    qualified: `${ident(master.node.schema ?? schema)}.${ident(master.node.table)}`,
    keyColumns: master.node.primaryKey,
    revisionTable,
    revisions: await revisionsOf(session, revisionTable, cqrsId),
  };
}

interface MasterRow {
  key: unknown[];
  /** The key as PostgreSQL prints it: exact for every type (bigint included). */
  keyText: string;
  revision: number;
  /** The row as `to_jsonb` gives it (what the capture trigger records). */
  row?: Record<string, unknown>;
}

interface MasterPage {
  rows: MasterRow[];
  next?: string;
}

/** One page of master rows in primary-key order, with their current revision (0 for rows written before installOutbox). */
async function readMasterPage(tx: EntityManager, session: SqlSession, source: MasterSource,
  options: { filter?: object; after?: string; size: number; withRows: boolean }): Promise<MasterPage> {
  const { qualified, keyColumns, revisions } = source;
  const key = keyArray('t', keyColumns);
  const select = `SELECT ${options.withRows ? 'to_jsonb(t) AS row, ' : ''}${key} AS key, ${key}::text AS key_text, ` +
    `coalesce(r.revision, 0)::text AS revision, ${keyObject('t', keyColumns)}::text AS cursor ` +
    `FROM ${qualified} t LEFT JOIN ${revisions.sql} r ON r.key = ${key}`;
  type Found = { row?: Record<string, unknown>; key: unknown[]; key_text: string; revision: string; cursor: string };
  const toRow = (found: Found): MasterRow => ({ key: found.key, keyText: found.key_text, revision: Number(found.revision), row: found.row });
  if (!options.filter) {
    const after = options.after === undefined ? ''
      : ` WHERE (${keyTuple('t', keyColumns)}) > (SELECT ${keyTuple('p', keyColumns)} FROM jsonb_populate_record(null::${qualified}, ?::jsonb) p)`;
    const found = await session.query<Found>(`${select}${after} ORDER BY ${keyTuple('t', keyColumns)} LIMIT ${options.size}`,
      [...revisions.params, ...(options.after === undefined ? [] : [options.after])]);
    return { rows: found.map(toRow), next: found.length === options.size ? found.at(-1)!.cursor : undefined };
  }
  const page = await findKeysByCursor(tx, source.master.entity, options.filter, source.master.node.primaryKeyProperties, options.size, options.after);
  tx.clear();
  if (page.keys.length === 0) return { rows: [], next: undefined };
  const keys = page.keys.map((values) => Object.fromEntries(keyColumns.map((column, i) => [column, values[i]])));
  const found = await session.query<Found>(
    `${select} JOIN jsonb_populate_recordset(null::${qualified}, ?::jsonb) p ON ${joinOn('t', 'p', keyColumns)} ORDER BY ${keyTuple('t', keyColumns)}`,
    [...revisions.params, JSON.stringify(keys)]);
  return { rows: found.map(toRow), next: page.next };
}

function syncChange(cqrsId: string, key: unknown[], revision: number, state: Record<string, unknown> | null) {
  return { cqrsId, key, operation: 'sync' as const, revision, state, createdAt: new Date().toISOString() };
}

function publishOptions(queue: string | undefined): { queue: string } | undefined {
  return queue === undefined ? undefined : { queue };
}

// ---------------------------------------------------------------------------------------------
// Replica side

function dumpMessage(value: Record<string, unknown>, cqrsId: string, keyLength: number, line: number): CqrsMessage {
  let message: CqrsMessage;
  try {
    message = parseCqrsMessage(value);
  } catch (error) {
    const why = error instanceof EntitySyncError && typeof error.info.why === 'string' ? error.info.why : (error as Error).message;
    throw invalid('dump', `the line is not a valid CQRS message (${why})`, line, error);
  }
  if (message.operation !== 'sync') throw invalid('dump', `operation ${message.operation} is not a sync`, line);
  if (message.cqrsId !== cqrsId) throw invalid('dump', `a message of '${message.cqrsId}' in a dump of '${cqrsId}'`, line);
  checkKey('dump', message.key, keyLength, line);
  return message;
}

// ---------------------------------------------------------------------------------------------
// Dump and load

/**
 * Streams the master rows of a CQRS id as NDJSON lines, from one snapshot: a header, one `sync`
 * message per row (current revision, state as the relay would publish it: include, exclude,
 * shouldSync and the serializer apply), and an end line with the count. Lines carry no newline.
 * On PGlite, read the stream to its end before using the same database for anything else.
 *
 * @example
 * ```ts
 * const out = createWriteStream('authors.ndjson');
 * for await (const line of dumpMaster(orm.em.fork(), { cqrsId: 'author' })) out.write(`${line}\n`);
 * ```
 */
export function dumpMaster(em: EntityManager, options: DumpMasterOptions): AsyncIterable<string> {
  const size = options.batchSize ?? DEFAULT_BATCH;
  return linesFromTransaction(em, 'repeatable read', async (tx, emit) => {
    const session = await SqlSession.open(tx, options.signal);
    const messages = new MasterMessages(tx);
    const source = await masterSource(tx, session, messages, options.cqrsId);
    await emit(streamHeader(DUMP_FORMAT, options.cqrsId));
    let count = 0;
    let after: string | undefined;
    if (source.master.options.produce !== false) {
      do {
        const page = await readMasterPage(tx, session, source, { filter: options.filter, after, size, withRows: true });
        for (const row of page.rows) {
          const message = await messages.toMessage(syncChange(options.cqrsId, row.key, row.revision, row.row!), tx);
          if (!message) continue;
          count += 1;
          await emit(JSON.stringify(message));
        }
        tx.clear();
        after = page.next;
      } while (after !== undefined);
    }
    await emit(JSON.stringify({ end: true, count }));
  });
}

/**
 * Loads a dump into the `@Replica` of its CQRS id, all or nothing in one transaction: a wrong
 * header, a bad line or a missing end line throws CQRS_DUMP_INVALID and applies nothing. The
 * revision guard applies per row: a replica row with a newer revision is kept (counted as skipped).
 */
export async function loadReplica(em: EntityManager, lines: AsyncIterable<string>, options: LoadReplicaOptions = {}): Promise<LoadReplicaResult> {
  const size = options.batchSize ?? DEFAULT_BATCH;
  return inTransaction(em, async (tx) => {
    const reader = new LineReader(lines, 'dump');
    const header = await readHeader(reader, 'dump', DUMP_FORMAT);
    const replica = replicaTarget(tx, header.cqrsId);
    await installReplica(tx);
    const session = await SqlSession.open(tx, options.signal);
    const total: LoadReplicaResult = { applied: 0, skipped: 0 };
    let batch: CqrsMessage[] = [];
    let read = 0;
    const flush = async () => {
      for (const verdict of await applyBatch(tx, session, replica, batch)) {
        if (verdict === 'apply' || verdict === 'gap') total.applied += 1;
        else total.skipped += 1;
      }
      batch = [];
      options.onProgress?.(read);
    };
    for (;;) {
      const { value } = await reader.object('a message or the end line');
      if (value.end === true) {
        if (value.count !== read) throw invalid('dump', `the end line counts ${JSON.stringify(value.count)} messages, the dump has ${read}`, reader.line);
        break;
      }
      batch.push(dumpMessage(value, header.cqrsId, replica.keyProperties.length, reader.line));
      read += 1;
      if (batch.length >= size) await flush();
    }
    await reader.finish();
    if (batch.length) await flush();
    return total;
  });
}

/**
 * Publishes the current state of chosen master rows (all, or those matching `filter`) as `sync`
 * messages, in batches, to every replica or to one queue. Replicas apply them even at an equal
 * revision, so this repairs rows whose content drifted. Resolves to the number of messages published.
 */
export async function syncMaster(em: EntityManager, transport: Transport, options: SyncMasterOptions): Promise<number> {
  const size = options.batchSize ?? DEFAULT_BATCH;
  const messages = new MasterMessages(em);
  let published = 0;
  let after: string | undefined;
  do {
    // each page reads in its own short transaction: publishing to a slow broker holds no transaction open
    const page = await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx, options.signal);
      const source = await masterSource(tx, session, messages, options.cqrsId);
      if (source.master.options.produce === false) return { batch: [], next: undefined };
      const read = await readMasterPage(tx, session, source, { filter: options.filter, after, size, withRows: true });
      const batch: CqrsMessage[] = [];
      for (const row of read.rows) {
        const message = await messages.toMessage(syncChange(options.cqrsId, row.key, row.revision, row.row!), tx);
        if (message) batch.push(message);
      }
      return { batch, next: read.next };
    });
    if (page.batch.length) {
      await transport.publish(page.batch, publishOptions(options.queue));
      published += page.batch.length;
      options.onProgress?.(published);
    }
    after = page.next;
  } while (after !== undefined);
  return published;
}

// ---------------------------------------------------------------------------------------------
// Diff

/**
 * Step 1 of a diff, on the master: streams a header, `{"key":[...],"revision":n}` for every row
 * the master publishes (in primary-key order, keys exactly as the capture trigger records
 * them), and an end line with the count. Feed it to `diffReplica` on the replica.
 */
export function diffMaster(em: EntityManager, options: DiffMasterOptions): AsyncIterable<string> {
  const size = options.batchSize ?? DEFAULT_BATCH * 2;
  return linesFromTransaction(em, 'repeatable read', async (tx, emit) => {
    const session = await SqlSession.open(tx, options.signal);
    const messages = new MasterMessages(tx);
    const source = await masterSource(tx, session, messages, options.cqrsId);
    // rows that shouldSync keeps back never reach a replica, so they are not listed
    const filtered = !!source.master.options.shouldSync;
    await emit(streamHeader(DIFF_FORMAT, options.cqrsId));
    let count = 0;
    let after: string | undefined;
    if (source.master.options.produce !== false) {
      do {
        const page = await readMasterPage(tx, session, source, { after, size, withRows: filtered });
        for (const row of page.rows) {
          if (filtered && !await messages.toMessage(syncChange(options.cqrsId, row.key, row.revision, row.row!), tx)) continue;
          count += 1;
          await emit(`{"key":${row.keyText},"revision":${row.revision}}`);
        }
        if (filtered) tx.clear();
        after = page.next;
      } while (after !== undefined);
    }
    await emit(JSON.stringify({ end: true, count }));
  });
}

let tempTables = 0;
const tempName = (what: string) => `entity_sync_${what}_${process.pid}_${++tempTables}`;

/**
 * Step 2 of a diff, on the replica: reads the stream of `diffMaster`, compares it set-based in
 * the database (master keys in a temporary table, a full outer join against the replica's rows
 * and revisions), and streams the header, one `{"kind","key","revision"}` line per difference
 * (`revision` is the replica's, or null) and an end line with the counts. Feed it to `diffSync`.
 */
export function diffReplica(em: EntityManager, lines: AsyncIterable<string>, options: RepairOptions = {}): AsyncIterable<string> {
  const size = options.batchSize ?? DEFAULT_BATCH * 2;
  return linesFromTransaction(em, undefined, async (tx, emit) => {
    const reader = new LineReader(lines, 'diff');
    const header = await readHeader(reader, 'diff', DIFF_FORMAT);
    const replica = replicaTarget(tx, header.cqrsId);
    const session = await SqlSession.open(tx, options.signal);
    const master = tempName('diff_master');
    await session.run(`CREATE TEMPORARY TABLE ${master} (line jsonb NOT NULL) ON COMMIT DROP`);
    let count = 0;
    let copy = '';
    for (;;) {
      const { text, value } = await reader.object('a key line or the end line');
      if (value.end === true) {
        if (value.count !== count) throw invalid('diff', `the end line counts ${JSON.stringify(value.count)} keys, the stream has ${count}`, reader.line);
        break;
      }
      if ('kind' in value) throw invalid('diff', 'this is the output of diffReplica; diffReplica reads the output of diffMaster', reader.line);
      checkKey('diff', value.key, replica.keyColumns.length, reader.line);
      if (!isRevision(value.revision)) throw invalid('diff', `revision ${JSON.stringify(value.revision)} is not a whole number`, reader.line);
      count += 1;
      copy += `${copyText(text)}\n`;
      if (count % size === 0) {
        await session.copyIn(`COPY ${master} (line) FROM STDIN`, copy);
        copy = '';
      }
    }
    await reader.finish();
    if (copy) await session.copyIn(`COPY ${master} (line) FROM STDIN`, copy);
    const [twice] = await session.query<{ key: string }>(`SELECT (line->'key')::text AS key FROM ${master} GROUP BY line->'key' HAVING count(*) > 1 LIMIT 1`);
    if (twice) throw invalid('diff', `key ${twice.key} is listed twice`);

    const states = await revisionsOf(session, replica.stateTable, replica.cqrsId);
    const result = tempName('diff_result');
    await session.run(`CREATE TEMPORARY TABLE ${result} (n bigserial PRIMARY KEY, kind text NOT NULL, key jsonb NOT NULL, revision bigint) ON COMMIT DROP`);
    await session.run(`INSERT INTO ${result} (kind, key, revision) ` +
      `SELECT CASE WHEN r.key IS NULL THEN 'missing' WHEN m.key IS NULL THEN 'extra' ELSE 'stale' END, coalesce(m.key, r.key), s.revision ` +
      `FROM (SELECT line->'key' AS key, (line->>'revision')::bigint AS revision FROM ${master}) m ` +
      `FULL JOIN (SELECT ${keyArray('t', replica.keyColumns)} AS key FROM ${replica.qualified} t) r ON r.key = m.key ` +
      `LEFT JOIN ${states.sql} s ON s.key = coalesce(m.key, r.key) ` +
      'WHERE r.key IS NULL OR m.key IS NULL OR s.revision IS NULL OR s.revision < m.revision ' +
      'ORDER BY coalesce(m.key, r.key)', states.params);
    const counts: Record<DiffKind, number> = { missing: 0, stale: 0, extra: 0 };
    for (const row of await session.query<{ kind: DiffKind; n: number }>(`SELECT kind, count(*)::int AS n FROM ${result} GROUP BY kind`)) {
      counts[row.kind] = row.n;
    }
    await emit(header.text);
    for (let after = 0; ;) {
      const page = await session.query<{ n: string; line: string }>(
        `SELECT n::text AS n, jsonb_build_object('kind', kind, 'key', key, 'revision', revision)::text AS line FROM ${result} ` +
        `WHERE n > ? ORDER BY n LIMIT ${size}`, [after]);
      for (const row of page) await emit(row.line);
      if (page.length < size) break;
      after = Number(page.at(-1)!.n);
    }
    await emit(JSON.stringify({ end: true, ...counts }));
  });
}

/**
 * Step 3 of a diff, on the master: reads the stream of `diffReplica` and publishes the repair as
 * `sync` messages: the current state of every missing or stale row, and `state: null` for rows
 * the master does not have, at a revision no lower than the replica's (the replica deletes the
 * row and keeps a tombstone). The whole report is checked before anything is published.
 */
export async function diffSync(em: EntityManager, transport: Transport, lines: AsyncIterable<string>, options: DiffSyncOptions = {}): Promise<DiffSyncResult> {
  const size = options.batchSize ?? DEFAULT_BATCH;
  return inTransaction(em, async (tx) => {
    const reader = new LineReader(lines, 'diff');
    const header = await readHeader(reader, 'diff', DIFF_FORMAT);
    const messages = new MasterMessages(tx);
    const session = await SqlSession.open(tx, options.signal);
    const source = await masterSource(tx, session, messages, header.cqrsId);
    const { keyColumns, qualified, revisions } = source;
    const report = tempName('diff_report');
    await session.run(`CREATE TEMPORARY TABLE ${report} (n bigserial PRIMARY KEY, line jsonb NOT NULL) ON COMMIT DROP`);
    const counts: Record<DiffKind, number> = { missing: 0, stale: 0, extra: 0 };
    let copy = '';
    let read = 0;
    for (;;) {
      const { text, value } = await reader.object('a difference or the end line');
      if (value.end === true) {
        const wrong = DIFF_KINDS.find((kind) => value[kind] !== counts[kind]);
        if (wrong) throw invalid('diff', `the end line counts ${JSON.stringify(value[wrong])} ${wrong} rows, the stream has ${counts[wrong]}`, reader.line);
        break;
      }
      if (!DIFF_KINDS.includes(value.kind as DiffKind)) {
        throw invalid('diff', `kind ${JSON.stringify(value.kind)} is not missing, stale or extra${'kind' in value ? '' : ' (diffSync reads the output of diffReplica)'}`, reader.line);
      }
      checkKey('diff', value.key, keyColumns.length, reader.line);
      if (value.revision !== null && !isRevision(value.revision)) throw invalid('diff', `revision ${JSON.stringify(value.revision)} is not a whole number or null`, reader.line);
      counts[value.kind as DiffKind] += 1;
      read += 1;
      copy += `${copyText(text)}\n`;
      if (read % size === 0) {
        await session.copyIn(`COPY ${report} (line) FROM STDIN`, copy);
        copy = '';
      }
    }
    await reader.finish();
    if (copy) await session.copyIn(`COPY ${report} (line) FROM STDIN`, copy);
    if (source.master.options.produce === false) return { republished: 0, deleted: 0 };

    // A replica that holds a revision the master never reached (a tombstone of a row the master
    // never counted, a master restored from an older backup) would drop every later message of
    // the row: the master's counter is raised to the replica's first, which also locks those
    // rows' counters so that a concurrent change gets a higher revision than what is sent here.
    if (revisions.params.length) {
      await session.run(`INSERT INTO ${source.revisionTable} AS r (cqrs_id, key, revision) ` +
        `SELECT ?, s.key, max(s.revision) FROM (SELECT line->'key' AS key, (line->>'revision')::bigint AS revision FROM ${report}) s ` +
        `WHERE s.revision IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${source.revisionTable} x WHERE x.cqrs_id = ? AND x.key = s.key AND x.revision >= s.revision) ` +
        'GROUP BY s.key ON CONFLICT (cqrs_id, key) DO UPDATE SET revision = excluded.revision WHERE r.revision < excluded.revision',
      [header.cqrsId, header.cqrsId]);
    }
    const result: DiffSyncResult = { republished: 0, deleted: 0 };
    for (let after = 0; ;) {
      // row state and revision come from one statement: a consistent pair, whatever commits meanwhile
      const page = await session.query<{ n: string; kind: DiffKind; key: unknown[]; replica: string | null; row: Record<string, unknown> | null; revision: string | null }>(
        `SELECT s.n::text AS n, s.line->>'kind' AS kind, s.line->'key' AS key, (s.line->>'revision') AS replica, m.row, r.revision::text AS revision ` +
        `FROM ${report} s LEFT JOIN LATERAL (SELECT to_jsonb(t) AS row FROM ${qualified} t, ${keyRecord(qualified, "s.line->'key'", keyColumns)} p ` +
        `WHERE ${joinOn('t', 'p', keyColumns)}) m ON true LEFT JOIN ${revisions.sql} r ON r.key = s.line->'key' ` +
        `WHERE s.n > ? ORDER BY s.n LIMIT ${size}`, [...revisions.params, after]);
      const batch: CqrsMessage[] = [];
      for (const row of page) {
        const revision = Math.max(Number(row.revision ?? 0), Number(row.replica ?? 0));
        let message = row.row ? await messages.toMessage(syncChange(header.cqrsId, row.key, revision, row.row), tx) : undefined;
        if (message) {
          result.republished += 1;
        } else if (row.row || row.kind !== 'missing') {
          // the master does not have the row (or no longer publishes it): the replica deletes it
          message = await messages.toMessage(syncChange(header.cqrsId, row.key, revision, null), tx);
          if (message) result.deleted += 1;
        }
        if (message) batch.push(message);
      }
      tx.clear();
      if (batch.length) {
        await transport.publish(batch, publishOptions(options.queue));
        options.onProgress?.(result.republished + result.deleted);
      }
      if (page.length < size) break;
      after = Number(page.at(-1)!.n);
    }
    return result;
  });
}
