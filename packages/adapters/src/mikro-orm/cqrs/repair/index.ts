import { EntitySyncError, parseCqrsMessage, type CqrsMessage, type Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { inTransaction } from '../../compat.js';
import { SqlSession } from '../../graph/sql-session.js';
import { MasterMessages } from '../master-messages.js';
import { installReplica } from '../replica-applier.js';
import { applyBatch, joinOn, keyRecord, replicaTarget } from '../replica-batch.js';
import { keyArray, masterSource, publishOptions, readMasterPage, revisionsOf, syncChange } from './master-rows.js';
import {
  checkKey, DEFAULT_BATCH, DIFF_FORMAT, DUMP_FORMAT, invalid, isRevision, lineCopy, LineReader, linesFromTransaction, readHeader, streamHeader,
} from './streams.js';

// The repair tools of CQRS replication. They talk across processes through NDJSON line streams
// (one string per line, without its newline): a dump (`dumpMaster` -> `loadReplica`) and a
// diff (`diffMaster` -> `diffReplica` -> `diffSync`). Every stream starts with a header line and
// ends with an end line, so that a file cut short is refused instead of half applied.

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
    const copy = lineCopy(session, master, size);
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
      await copy.add(text);
    }
    await reader.finish();
    await copy.finish();
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
    const copy = lineCopy(session, report, size);
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
      await copy.add(text);
    }
    await reader.finish();
    await copy.finish();
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
