import { CqrsError, type CqrsMessage, type Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { inTransaction } from '../../extension/compat.js';
import { SqlSession } from '../../../internal/pg/sql-session.js';
import { MasterMessages } from '../master/master-messages.js';
import { joinOn, keyRecord } from '../replica/replica-batch.js';
import { diffKinds, noDifferences, type DiffKind } from './diff-report.js';
import { LineSpool } from './line-spool.js';
import { masterSource, publishOptions, syncChange, type MasterSource } from './master-rows.js';
import type { RepairOptions } from './repair-options.js';
import { checkKey, DEFAULT_BATCH, DIFF_FORMAT, isRevision, LineReader, readHeader, type StreamHeader } from './streams.js';
import { checkEntityManager } from '../../extension/arguments.js';

/** Options of `diffSync`. */
export interface DiffSyncOptions extends RepairOptions {
  /** Publish to this replica queue only (the replica the diff was taken on), instead of to every replica. */
  queue?: string;
  /** Called after each published batch with the number of messages published so far. */
  onProgress?: (published: number) => void;
  /** Where the report is kept between reading it and publishing it page by page (a new directory in it). Default: the system's temporary directory. */
  tempDir?: string;
}

/** What `diffSync` published: current states of missing, stale and changed rows, and deletes of rows the master does not have. */
export interface DiffSyncReport {
  republished: number;
  deleted: number;
}

/** Where `readReport` keeps the report: every line, and apart the lines that carry a replica revision. */
interface KeptReport {
  lines: LineSpool;
  withRevision: LineSpool;
}

/** Runs `work` with the two new spools of a report, removed afterwards whatever happens. */
async function withKeptReport<T>(tempDir: string | undefined, work: (kept: KeptReport) => Promise<T>): Promise<T> {
  const lines = await LineSpool.create(tempDir);
  try {
    const withRevision = await LineSpool.create(tempDir);
    try {
      return await work({ lines, withRevision });
    } finally {
      await withRevision.remove();
    }
  } finally {
    await lines.remove();
  }
}

/** Checks the whole report and writes its lines to the spools; throws CQRS_DUMP_INVALID before anything is published. */
async function readReport(reader: LineReader, header: StreamHeader, keyLength: number, kept: KeptReport): Promise<void> {
  const kinds = diffKinds(header.version);
  const counts = noDifferences(header.version);
  for (;;) {
    const { text, value } = await reader.object('a difference or the end line');
    if (value.end === true) {
      const wrong = kinds.find((kind) => value[kind] !== counts[kind]);
      if (wrong) throw CqrsError.streamInvalid('diff', `the end line counts ${JSON.stringify(value[wrong])} ${wrong} rows, the stream has ${counts[wrong]}`, reader.line);
      break;
    }
    if (!kinds.includes(value.kind as DiffKind)) {
      const why = !('kind' in value) ? ' (diffSync reads the output of diffReplica)'
        : value.kind === 'changed' ? ` (a version ${header.version} report has none: the header and the lines come from different releases)` : '';
      throw CqrsError.streamInvalid('diff', `kind ${JSON.stringify(value.kind)} is not ${kinds.slice(0, -1).join(', ')} or ${kinds.at(-1)}${why}`, reader.line);
    }
    checkKey('diff', value.key, keyLength, reader.line);
    if (value.revision !== null && !isRevision(value.revision)) throw CqrsError.streamInvalid('diff', `revision ${JSON.stringify(value.revision)} is not a whole number or null`, reader.line);
    counts[value.kind as DiffKind] = (counts[value.kind as DiffKind] ?? 0) + 1;
    await kept.lines.write(text);
    if (value.revision !== null) await kept.withRevision.write(text);
  }
  await reader.finish();
  await kept.lines.finish();
  await kept.withRevision.finish();
}

// A replica that holds a revision the master never reached (a tombstone of a row the master
// never counted, a master restored from an older backup) would drop every later message of the
// row: before anything is published, the master's counters are raised to the replica's, so that
// the repair goes out at the replica's revision and the next change of such a row gets a higher one.
async function raiseRevisions(em: EntityManager, source: MasterSource, cqrsId: string, withRevision: LineSpool, size: number, signal?: AbortSignal): Promise<void> {
  if (!source.revisions.params.length) return;
  for await (const page of withRevision.pages(size)) {
    await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx, signal);
      await session.run(`INSERT INTO ${source.revisionTable} AS r (cqrs_id, key, revision) ` +
        "SELECT ?, s.key, max(s.revision) FROM (SELECT e->'key' AS key, (e->>'revision')::bigint AS revision FROM jsonb_array_elements(?::jsonb) e) s " +
        `WHERE NOT EXISTS (SELECT 1 FROM ${source.revisionTable} x WHERE x.cqrs_id = ? AND x.key = s.key AND x.revision >= s.revision) ` +
        'GROUP BY s.key ON CONFLICT (cqrs_id, key) DO UPDATE SET revision = excluded.revision WHERE r.revision < excluded.revision',
      [cqrsId, `[${page.join(',')}]`, cqrsId]);
    });
  }
}

type ReportRow = { kind: DiffKind; key: unknown[]; replica: string | null; row: string | null; revision: string | null };

/** The messages that repair one page of the report, read in the transaction `tx` is in; `deleted` of them delete. */
async function pageMessages(tx: EntityManager, session: SqlSession, messages: MasterMessages, source: MasterSource, cqrsId: string, page: string[]):
  Promise<{ batch: CqrsMessage[]; deleted: number }> {
  const { keyColumns, qualified, revisions } = source;
  // row state and revision come from one statement: a consistent pair, whatever commits meanwhile
  const rows = await session.query<ReportRow>(
    "SELECT s.line->>'kind' AS kind, s.line->'key' AS key, (s.line->>'revision') AS replica, m.row, r.revision::text AS revision " +
    'FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS s(line, n) ' +
    `LEFT JOIN LATERAL (SELECT to_jsonb(t)::text AS row FROM ${qualified} t, ${keyRecord(qualified, "s.line->'key'", keyColumns)} p ` +
    `WHERE ${joinOn('t', 'p', keyColumns)}) m ON true LEFT JOIN ${revisions.sql} r ON r.key = s.line->'key' ORDER BY s.n`,
    [`[${page.join(',')}]`, ...revisions.params]);
  const batch: CqrsMessage[] = [];
  let deleted = 0;
  for (const row of rows) {
    const revision = Math.max(Number(row.revision ?? 0), Number(row.replica ?? 0));
    let message = row.row ? await messages.toMessage(syncChange(cqrsId, row.key, revision, row.row), tx) : undefined;
    if (!message && (row.row || row.kind !== 'missing')) {
      // the master does not have the row (or no longer publishes it): the replica deletes it
      message = await messages.toMessage(syncChange(cqrsId, row.key, revision, null), tx);
      if (message) deleted += 1;
    }
    if (message) batch.push(message);
  }
  tx.clear();
  return { batch, deleted };
}

/**
 * Step 3 of a diff, on the master: reads the stream of `diffReplica` and publishes the repair as
 * `sync` messages: the current state of every missing, stale or changed row, and `state: null`
 * for rows the master does not have, at a revision no lower than the replica's (the replica
 * deletes the row and keeps a tombstone; a changed row is rewritten at its equal revision).
 *
 * The whole report is checked before anything is published; it is kept in temporary files
 * (`tempDir`), so memory holds one page. The master's revisions are then raised to the
 * replica's where those are ahead, and each page reads its rows' state and revision in one
 * statement of its own short transaction and is published after that transaction ended: a slow
 * broker holds no transaction open on the master. Aborting stops before the next page; pages
 * already published stay published, and running the diff again finds what is left.
 */
export async function diffSync(em: EntityManager, transport: Transport, lines: AsyncIterable<string>, options: DiffSyncOptions = {}): Promise<DiffSyncReport> {
  checkEntityManager('diffSync', em, 'diffSync(em, transport, lines)');
  const size = options.batchSize ?? DEFAULT_BATCH;
  const reader = new LineReader(lines, 'diff');
  const header = await readHeader(reader, 'diff', DIFF_FORMAT);
  const messages = new MasterMessages(em);
  const master = messages.master(header.cqrsId);
  return withKeptReport(options.tempDir, async (kept) => {
    await readReport(reader, header, master.node.primaryKey.length, kept);
    const result: DiffSyncReport = { republished: 0, deleted: 0 };
    if (master.options.produce === false) return result;
    const source = await inTransaction(em, async (tx) => masterSource(tx, await SqlSession.open(tx, options.signal), messages, header.cqrsId));
    await raiseRevisions(em, source, header.cqrsId, kept.withRevision, size, options.signal);
    for await (const page of kept.lines.pages(size)) {
      // each page reads in its own short transaction, and is published after it ended
      const built = await inTransaction(em, async (tx) => pageMessages(tx, await SqlSession.open(tx, options.signal), messages, source, header.cqrsId, page));
      if (built.batch.length) {
        await transport.publish(built.batch, publishOptions(options.queue));
        result.republished += built.batch.length - built.deleted;
        result.deleted += built.deleted;
        options.onProgress?.(result.republished + result.deleted);
      }
    }
    return result;
  });
}
