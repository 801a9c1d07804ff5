import { CqrsError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { lineCopy } from '../../../internal/pg/copy-text.js';
import { SqlSession } from '../../../internal/pg/sql-session.js';
import { replicaTarget, type ReplicaTarget } from '../replica/replica-batch.js';
import { noDifferences, tempName, type DiffKind } from './diff-report.js';
import { keyArray, revisionsOf, type Relation } from './master-rows.js';
import { differingKeysInto } from '../../../internal/pg/table-compare.js';
import { ContentComparison } from './replica-content.js';
import type { RepairOptions } from './repair-options.js';
import {
  checkKey, CONTENT_VERSION, DEFAULT_BATCH, DIFF_FORMAT, isRecord, isRevision, LineReader, linesFromTransaction, readHeader,
  type StreamHeader,
} from './streams.js';
import { checkEntityManager } from '../../extension/arguments.js';

/** Options of `diffReplica`. */
export interface DiffReplicaOptions extends RepairOptions {
  /**
   * Told once when the content of the rows cannot be compared, and why (the diff then finds
   * missing, extra and stale rows only). Default: a warning on stderr.
   */
  onWarning?: (message: string) => void;
}

const warn = (message: string) => console.warn(`entity-sync: ${message}`);

// SQLSTATE class 22 (a value that does not fit a type) and 42883 (a type without equality).
function mismatch(error: unknown, replica: ReplicaTarget): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !(code.startsWith('22') || code === '42883')) return error;
  return CqrsError.stateDoesNotFit(replica.cqrsId, replica.entity, error);
}

/** Checks the stream of diffMaster and copies its lines, with the mapped data of their state when compared, to the listing table. */
async function readListing(reader: LineReader, header: StreamHeader, replica: ReplicaTarget, copy: ReturnType<typeof lineCopy>,
  comparison: ContentComparison | undefined): Promise<void> {
  const withState = header.version >= CONTENT_VERSION;
  let count = 0;
  for (;;) {
    const { text, value } = await reader.object('a key line or the end line');
    if (value.end === true) {
      if (value.count !== count) throw CqrsError.streamInvalid('diff', `the end line counts ${JSON.stringify(value.count)} keys, the stream has ${count}`, reader.line);
      break;
    }
    if ('kind' in value) throw CqrsError.streamInvalid('diff', 'this is the output of diffReplica; diffReplica reads the output of diffMaster', reader.line);
    checkKey('diff', value.key, replica.keyColumns.length, reader.line);
    if (!isRevision(value.revision)) throw CqrsError.streamInvalid('diff', `revision ${JSON.stringify(value.revision)} is not a whole number`, reader.line);
    if (isRecord(value.state) !== withState) {
      throw CqrsError.streamInvalid('diff', `a line ${withState ? 'without' : 'with'} a state in a version ${header.version} stream ` +
        '(the header and the lines come from different diffMaster runs or releases)', reader.line);
    }
    count += 1;
    await copy.add(text, comparison ? JSON.stringify(comparison.data(value.state as Record<string, unknown>)) : null);
  }
  await reader.finish();
  await copy.finish();
}

/**
 * The keys whose master line and replica row may differ, found by the diff engine in this
 * session: the listing and the replica (with its revisions) as key, revision and the compared
 * columns, joined by one query that compares them column by column. The engine may list more keys
 * than differ (a value with two spellings); never fewer. Returns the temporary table of those
 * keys (`k0`, the text of the key's jsonb), or undefined when none may differ.
 */
async function candidateKeys(session: SqlSession, master: string, replica: ReplicaTarget, states: Relation,
  comparison: ContentComparison | undefined): Promise<string | undefined> {
  // columns no state sets are left out: a null on the master's side would make every row a candidate
  const carried = new Set(comparison
    ? (await session.query<{ name: string }>(`SELECT DISTINCT n AS name FROM ${master}, jsonb_object_keys(data) n`)).map((row) => row.name)
    : []);
  const values = (row: string) => (comparison?.values(row, carried) ?? []).map((value, i) => `, ${value} AS c${i}`).join('');
  const key = keyArray('t', replica.keyColumns);
  const candidates = tempName('diff_candidates');
  // the listing's keys were checked unique; the replica's are its primary key
  const found = await differingKeysInto(session, [
    `SELECT line->'key' AS k, (line->>'revision')::bigint AS v${values('p')} FROM ${master} m LEFT JOIN LATERAL jsonb_populate_record(null::${replica.qualified}, m.data) p ON true`,
    `SELECT ${key} AS k, s.revision AS v${values('t')} FROM ${replica.qualified} t LEFT JOIN ${states.inline} s ON s.key = ${key}`,
  ], ['k'], ['v', ...(comparison?.values('p', carried) ?? []).map((_, i) => `c${i}`)], candidates);
  return found === 0 ? undefined : candidates;
}

/**
 * Step 2 of a diff, on the replica: reads the stream of `diffMaster`, compares it set-based in
 * the database (master lines in a temporary table; the diff engine's one query over it and the
 * replica's rows and revisions picks the keys that may differ; a full outer join of those keys
 * classifies them), and streams the header, one `{"kind","key","revision"}` line per difference
 * (`revision` is the replica's, or null) and an end line with the counts. Feed it to `diffSync`.
 *
 * A row is `missing` (not on the replica), `extra` (not on the master), `stale` (an older or no
 * revision on the replica) or `changed`: at the master's revision, but a replicated field holds
 * another value than the master's state mapped by the replica's `fields` (renamed, dropped,
 * transformed), compared as the replica's column types read them; its line names the `fields`.
 * Columns the message does not carry, and replicas with onCqrsCreate/onCqrsUpdate handlers,
 * are not compared (see `onWarning`); a version 1 stream (`content: false`) compares revisions only.
 */
export function diffReplica(em: EntityManager, lines: AsyncIterable<string>, options: DiffReplicaOptions = {}): AsyncIterable<string> {
  checkEntityManager('diffReplica', em, 'diffReplica(em, lines)');
  const size = options.batchSize ?? DEFAULT_BATCH * 2;
  return linesFromTransaction(em, undefined, async (tx, emit) => {
    const reader = new LineReader(lines, 'diff');
    const header = await readHeader(reader, 'diff', DIFF_FORMAT);
    const replica = replicaTarget(tx, header.cqrsId);
    const session = await SqlSession.open(tx, options.signal);
    let comparison: ContentComparison | undefined;
    if (header.version >= CONTENT_VERSION) {
      const found = await ContentComparison.of(tx, session, replica);
      if (!(found instanceof ContentComparison)) (options.onWarning ?? warn)(found.skipped);
      else if (!found.empty) comparison = found;
    }
    const master = tempName('diff_master');
    await session.run(`CREATE TEMPORARY TABLE ${master} (line jsonb NOT NULL, data jsonb) ON COMMIT DROP`);
    await readListing(reader, header, replica, lineCopy(session, master, size, ['line', 'data']), comparison);
    const [twice] = await session.query<{ key: string }>(`SELECT (line->'key')::text AS key FROM ${master} GROUP BY line->'key' HAVING count(*) > 1 LIMIT 1`);
    if (twice) throw CqrsError.streamInvalid('diff', `key ${twice.key} is listed twice`);

    const states = await revisionsOf(session, replica.stateTable, replica.cqrsId);
    const result = tempName('diff_result');
    await session.run(`CREATE TEMPORARY TABLE ${result} (n bigserial PRIMARY KEY, kind text NOT NULL, key jsonb NOT NULL, revision bigint, fields text[]) ON COMMIT DROP`);
    // content is compared at an equal revision only: a replica ahead of the listing has applied a change the listing predates
    const content = comparison
      ? { join: `LEFT JOIN LATERAL (SELECT ${comparison.differing('m.data', 'p', 'r.rec')} AS fields ` +
          `FROM jsonb_populate_record(null::${replica.qualified}, m.data) p WHERE r.key IS NOT NULL AND s.revision = m.revision) d ON true`,
        changed: 'cardinality(d.fields) > 0', fields: 'd.fields' }
      : { join: '', changed: 'false', fields: 'NULL::text[]' };
    const key = keyArray('t', replica.keyColumns);
    try {
      const candidates = await candidateKeys(session, master, replica, states, comparison);
      if (candidates) {
        const among = (expression: string) => ` WHERE ${expression} IN (SELECT k0::jsonb FROM ${candidates})`;
        await session.run(`INSERT INTO ${result} (kind, key, revision, fields) ` +
          "SELECT kind, key, revision, CASE WHEN kind = 'changed' THEN fields END FROM (" +
          "SELECT CASE WHEN r.key IS NULL THEN 'missing' WHEN m.key IS NULL THEN 'extra' WHEN s.revision IS NULL OR s.revision < m.revision THEN 'stale' " +
          `WHEN ${content.changed} THEN 'changed' END AS kind, coalesce(m.key, r.key) AS key, s.revision, ${content.fields} AS fields ` +
          `FROM (SELECT line->'key' AS key, (line->>'revision')::bigint AS revision, data FROM ${master}${among("line->'key'")}) m ` +
          `FULL JOIN (SELECT ${key} AS key, t AS rec FROM ${replica.qualified} t${among(key)}) r ON r.key = m.key ` +
          `LEFT JOIN ${states.sql} s ON s.key = coalesce(m.key, r.key) ${content.join}` +
          ') x WHERE kind IS NOT NULL ORDER BY key', states.params);
      }
    } catch (error) {
      throw mismatch(error, replica);
    }
    const counts = noDifferences(header.version);
    for (const row of await session.query<{ kind: DiffKind; n: number }>(`SELECT kind, count(*)::int AS n FROM ${result} GROUP BY kind`)) {
      counts[row.kind] = row.n;
    }
    await emit(header.text);
    for (let after = 0; ;) {
      // ordered by the bigint column: an output alias `n` of its text would sort "10" before "2"
      const page = await session.query<{ position: string; line: string }>(
        "SELECT n::text AS position, (jsonb_build_object('kind', kind, 'key', key, 'revision', revision) || " +
        `CASE WHEN fields IS NULL THEN '{}' ELSE jsonb_build_object('fields', fields) END)::text AS line FROM ${result} ` +
        `WHERE n > ? ORDER BY n LIMIT ${size}`, [after]);
      for (const row of page) await emit(row.line);
      if (page.length < size) break;
      after = Number(page.at(-1)!.position);
    }
    await emit(JSON.stringify({ end: true, ...counts }));
  });
}
