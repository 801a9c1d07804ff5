import { DiffError, isEntitySyncError, type DiffCandidates, type NarrowRequest } from '@entity-sync/core';
import { loadPeer } from '../peer.js';
import { ident, type SqlSession } from './sql-session.js';

/** The part of node-postgres's client the table source uses. */
export type PgClient = {
  connect(): Promise<void>;
  query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): void;
};

/** The rows of a side: a table, or those of it a query selects. */
export interface RelationRef {
  /** The table's quoted, schema-qualified name (its columns, types and indexes are read from the catalog). */
  qualified: string;
  /** What the rows are selected from: the table's name, or a subquery of its rows with every column of it (`(SELECT ...) AS t`). */
  from: string;
  /** The key's columns. */
  key: string[];
  /** The columns each record carries besides the key; undefined: every column. */
  columns?: string[];
  /** The caller knows no two rows share a key and no key part is null (a view's catalog cannot tell): no duplicate keys are looked for. */
  uniqueKey?: boolean;
}

/** A table as `fromTable` reads it. */
export interface TableRef extends RelationRef {
  url: string;
  bisection: Required<BisectionOptions>;
  /** A fetched row as the source's records are (a bigint key as a number). */
  shape(row: Record<string, unknown>, keyTypes: string[]): Record<string, unknown>;
}

/** How a checksum bisection splits the keys. */
export interface BisectionOptions {
  /** Buckets of the first level, by the key's hash: a power of two (default 1,024). */
  buckets?: number;
  /** Differing buckets holding at most this many rows are listed key by key rather than split again (default 10,000). */
  listBelow?: number;
}

/** A database's failure while a source's rows were read, as `DIFF_SOURCE_FAILED`; the library's own errors and an abort as they are. */
export const failed = (error: unknown, source: string, signal?: AbortSignal) =>
  (isEntitySyncError(error) || signal?.aborted ? error : DiffError.sourceFailed(source, error));

/** Opens a node-postgres client on a URL. */
export async function openClient(url: string): Promise<PgClient> {
  const pg = await loadPeer<{ default: { Client: new (options: { connectionString: string }) => PgClient } }>('pg', 'A PostgreSQL table as a diff source');
  const client = new pg.default.Client({ connectionString: url });
  // a connection cut while idle is told as an event, which would end the process unheard: the next query fails with it instead
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

interface Column { name: string; oid: number; type: string; notNull: boolean }

/** Where queries are sent (a client in a read-only snapshot, or the session of a transaction), and how many were. */
export interface Connection { run(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>; queries: number }

/** The session of a transaction as a connection. */
export const sessionConnection = (session: SqlSession): Connection => ({ queries: 0, run: (sql, params) => session.query(sql, params) });

/** One side of a comparison: its rows, their columns and the connection they are read on. */
interface Side {
  ref: RelationRef;
  connection: Connection;
  columns: Map<string, Column>;
  /** Some unique index covers the key, and no key column takes a null. */
  uniqueKey: boolean;
}

/** The rows a bucket of the next levels holds, about. */
const SPLIT_ROWS = 16;
const FETCH_BATCH = 5_000;

/**
 * A column's hash as an int8, the same in every database for the same value as the diff sees it:
 * integers (of any width), texts (byte-wise), booleans, uuids and timestamps by their own hash
 * functions; every other type by its text, so that two values with one text are one value (a
 * numeric 1.5 and 1.50 differ, as their texts do). A null is `-seed`.
 */
function columnHash(column: Column, seed: number, alias = ''): string {
  const c = `${alias}${ident(column.name)}`;
  const hash = [20, 21, 23].includes(column.oid) ? `hashint8extended(${c}::int8, ${seed})`
    : [25, 1043, 19].includes(column.oid) ? `hashtextextended(${c}::text COLLATE "C", ${seed})`
    : column.oid === 16 ? `hashint4extended(${c}::int4, ${seed})`
    : column.oid === 2950 ? `uuid_hash_extended(${c}, ${seed})`
    : column.oid === 1114 ? `timestamp_hash_extended(${c}, ${seed})`
    // the session's time zone is UTC: the same instant is the same timestamp
    : column.oid === 1184 ? `timestamp_hash_extended(${c}::timestamp, ${seed})`
    : `hashtextextended(${c}::text, ${seed})`;
  return column.notNull ? hash : `coalesce(${hash}, ${-seed})`;
}

/** The SQL a side's queries are made of. */
class SideSql {
  readonly keyColumns: Column[];
  readonly keyHash: string;
  readonly rowHash: string;
  readonly keyNotNull: string;
  readonly keyTexts: string;
  readonly select: string;
  /** The key's and the compared fields' columns. */
  readonly compared: string;
  /** The compared fields' columns, in the order paired with the other side's. */
  readonly fieldColumns: Column[];

  constructor(readonly side: Side, fields: string[]) {
    const column = (name: string) => side.columns.get(name)!;
    this.keyColumns = side.ref.key.map(column);
    this.keyHash = this.keyColumns.map((key, i) => columnHash(key, 1001 + i)).join(' # ');
    this.fieldColumns = fields.map(column);
    this.rowHash = [...this.keyColumns, ...this.fieldColumns].map((each, i) => columnHash(each, i + 1)).join(' # ');
    const nullable = this.keyColumns.filter((key) => !key.notNull);
    this.keyNotNull = nullable.length ? nullable.map((key) => `${ident(key.name)} IS NOT NULL`).join(' AND ') : 'TRUE';
    this.keyTexts = this.keyColumns.map((key, i) => `${ident(key.name)}::text AS k${i}`).join(', ');
    this.compared = [...new Set([...side.ref.key, ...fields])].map(ident).join(', ');
    this.select = side.ref.columns ? [...new Set([...side.ref.key, ...side.ref.columns])].map(ident).join(', ') : '*';
  }

  /**
   * Rows with a non-null key as `x`, with their key's hash (`kh`), those of the buckets given when
   * `filter` is (the hash's bits under its mask among `$1`), and the columns `extra` computes.
   */
  hashed(extra: string, filter?: bigint): string {
    const keyed = `SELECT ${this.keyHash} AS kh, ${this.compared} FROM ${this.side.ref.from} WHERE ${this.keyNotNull} OFFSET 0`;
    return `(SELECT kh, ${extra} FROM (${keyed}) k${filter !== undefined ? ` WHERE kh & ${filter} = ANY($1::int8[])` : ''} OFFSET 0) x`;
  }
}

async function query(side: Side, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  side.connection.queries++;
  return side.connection.run(sql, params);
}

/** A client on a URL in a read-only repeatable-read snapshot, in UTC (timestamps hash as instants). */
async function connect(url: string): Promise<Connection & { client: PgClient }> {
  const client = await openClient(url);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query("SET LOCAL TimeZone = 'UTC'; SET LOCAL jit = off; SET LOCAL work_mem = '64MB'");
    return { client, queries: 2, run: async (sql, params) => (await client.query(sql, params)).rows };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/** Ends a read-only snapshot and its client; a connection already gone is left at that (the failure that cut it is the one told). */
async function disconnect(connection: Connection & { client: PgClient }): Promise<void> {
  await connection.client.query('ROLLBACK').catch(() => undefined);
  await connection.client.end().catch(() => undefined);
}

/** A table read on a connection: its columns, and whether a unique index covers its key with no null allowed. */
async function sideOf(connection: Connection, ref: RelationRef): Promise<Side> {
  const side: Side = { ref, connection, columns: new Map(), uniqueKey: false };
  const rows = await query(side, 'SELECT a.attname AS name, a.atttypid::int AS oid, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS "notNull" ' +
    'FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum', [ref.qualified]);
  for (const row of rows as unknown as Column[]) side.columns.set(row.name, row);
  const [{ unique }] = await query(side, 'SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL ' +
    'AND (SELECT bool_and(a.attname = ANY($2::text[])) FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey))) AS unique', [ref.qualified, ref.key]) as [{ unique: boolean }];
  side.uniqueKey = ref.uniqueKey === true || (unique && ref.key.every((name) => side.columns.get(name)?.notNull));
  return side;
}

const sameDatabase = (a: string, b: string) => {
  const [x, y] = [new URL(a), new URL(b)];
  return x.hostname === y.hostname && (x.port || '5432') === (y.port || '5432') && decodeURIComponent(x.pathname) === decodeURIComponent(y.pathname);
};

/** The fields compared: those asked, else the left's selected columns, else every column of the left table but the key; undefined when a side's records lack one. */
function comparedFields(left: Side, right: Side, asked: string[] | undefined): string[] | undefined {
  const keys = new Set(left.ref.key);
  const fields = (asked ?? left.ref.columns ?? [...left.columns.keys()]).filter((field) => !keys.has(field));
  const carries = (side: Side, field: string) => side.columns.has(field) && (!side.ref.columns || side.ref.columns.includes(field));
  return fields.every((field) => carries(left, field) && carries(right, field)) ? fields : undefined;
}

/** The key texts of a row listed as `k0, k1, ...`, as one text. */
const keyId = (row: Record<string, unknown>, parts: number) => JSON.stringify(Array.from({ length: parts }, (_, i) => row[`k${i}`]));

/** A table's rows with the keys given (as `keyId` texts), in batches, shaped as the source's records. */
async function fetchRows(sql: SideSql, ref: TableRef, ids: string[]): Promise<Record<string, unknown>[]> {
  const fetched: Record<string, unknown>[] = [];
  const keys = sql.keyColumns;
  const keyTypes = keys.map((key) => key.type);
  for (let at = 0; at < ids.length; at += FETCH_BATCH) {
    const batch = ids.slice(at, at + FETCH_BATCH).map((id) => JSON.parse(id) as string[]);
    const where = keys.length === 1 ? `${ident(keys[0]!.name)} = ANY($1::text[]::${keys[0]!.type}[])`
      : `(${keys.map((key) => ident(key.name)).join(', ')}) IN (SELECT ${keys.map((key, i) => `u.c${i}::${key.type}`).join(', ')} ` +
        `FROM unnest(${keys.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${keys.map((_, i) => `c${i}`).join(', ')}))`;
    const rows = await query(sql.side, `SELECT ${sql.select} FROM ${ref.from} WHERE ${where}`, keys.map((_, i) => batch.map((parts) => parts[i])));
    for (const row of rows) fetched.push(ref.shape(row, keyTypes));
  }
  return fetched;
}

/** The keys more than one row of a side holds (as `keyId` texts): records the diff reports as problems, so always fetched. */
async function duplicatedKeys(sql: SideSql): Promise<string[]> {
  if (sql.side.uniqueKey) return [];
  const keys = sql.keyColumns.map((key) => ident(key.name)).join(', ');
  return (await query(sql.side, `SELECT ${sql.keyTexts} FROM ${sql.side.ref.from} WHERE ${sql.keyNotNull} GROUP BY ${keys} HAVING count(*) > 1`))
    .map((row) => keyId(row, sql.keyColumns.length));
}

/** Keys whose rows differ (or one side lacks) among listed (key, hash) rows of both sides. */
function differingKeys(lefts: Record<string, unknown>[], rights: Record<string, unknown>[], parts: number): Set<string> {
  const hashes = new Map<string, unknown>();
  const differ = new Set<string>();
  for (const row of lefts) {
    const id = keyId(row, parts);
    if (hashes.has(id)) differ.add(id);
    hashes.set(id, row.h);
  }
  const seen = new Set<string>();
  for (const row of rights) {
    const id = keyId(row, parts);
    if (seen.has(id) || hashes.get(id) !== row.h) differ.add(id);
    seen.add(id);
  }
  for (const id of hashes.keys()) if (!seen.has(id)) differ.add(id);
  return differ;
}

/**
 * Checksum bisection of two tables in two databases: per bucket of the key's hash, the count and
 * the sum of the rows' hashes computed in each database (1,024 buckets at first); the buckets that
 * differ are split again (into buckets of about 16 rows) until few rows are left, then their keys and
 * row hashes are listed, and only the rows of keys that differ are fetched. Identical tables cost
 * one scan of each and a handful of round trips.
 */
async function bisect(left: SideSql, right: SideSql, { buckets, listBelow }: Required<BisectionOptions>, stats: Record<string, number>, signal?: AbortSignal):
  Promise<{ ids: Set<string>; leftTotal: number }> {
  let filter: { mask: bigint; buckets: string[] } | undefined;
  let leftTotal = 0;
  let before = Infinity;
  for (let bits = Math.log2(buckets); ;) {
    signal?.throwIfAborted();
    const mask = (1n << BigInt(bits)) - 1n;
    const level = (sql: SideSql) => query(sql.side, `SELECT (kh & ${mask})::text AS b, count(*)::int8 AS n, sum(h)::text AS s FROM ${sql.hashed(`${sql.rowHash} AS h`, filter?.mask)} GROUP BY 1`,
      filter ? [filter.buckets] : []);
    const [lefts, rights] = await Promise.all([level(left), level(right)]);
    stats.levels = (stats.levels ?? 0) + 1;
    stats.buckets = (stats.buckets ?? 0) + lefts.length + rights.length;
    if (!filter) leftTotal = lefts.reduce((sum, row) => sum + Number(row.n), 0);
    const sums = new Map(lefts.map((row) => [row.b as string, row]));
    const differ = new Map<string, number>();
    for (const row of rights) {
      const other = sums.get(row.b as string);
      if (!other || other.n !== row.n || other.s !== row.s) differ.set(row.b as string, Math.max(Number(row.n), Number(other?.n ?? 0)));
      sums.delete(row.b as string);
    }
    for (const row of sums.values()) differ.set(row.b as string, Number(row.n));
    if (!differ.size) return { ids: new Set(), leftTotal };
    filter = { mask, buckets: [...differ.keys()] };
    const rows = [...differ.values()].reduce((sum, n) => sum + n, 0);
    // listed once few rows are left, or when splitting left as many (rows of one key, which no split parts)
    if (rows <= listBelow || rows >= before || bits >= 60) break;
    before = rows;
    // split each differing bucket into buckets of about SPLIT_ROWS rows
    bits = Math.min(60, bits + Math.max(1, Math.ceil(Math.log2(rows / differ.size / SPLIT_ROWS))));
  }
  const keyNames = left.keyColumns.map((_, i) => `k${i}`).join(', ');
  const list = (sql: SideSql) => query(sql.side, `SELECT ${keyNames}, h::text AS h FROM ${sql.hashed(`${sql.keyTexts}, ${sql.rowHash} AS h`, filter!.mask)}`, [filter!.buckets]);
  const [lefts, rights] = await Promise.all([list(left), list(right)]);
  stats.rowsListed = lefts.length + rights.length;
  return { ids: differingKeys(lefts, rights, left.keyColumns.length), leftTotal };
}

/** Which of `columnHash`'s hashes a column gets: two columns of one kind hash alike for the same value. */
function hashKind(column: Column): string {
  if ([20, 21, 23].includes(column.oid)) return 'integer';
  return [16, 2950, 1114, 1184].includes(column.oid) ? String(column.oid) : 'text';
}

/**
 * Whether the columns `l.<name>` and `r.<name>` of a pair hold other values, as their hashes would
 * tell (see `columnHash`), without hashing them: by `=` for the kinds whose equal values are one
 * value, by their texts byte-wise for the others, by their hashes when the two are of other kinds.
 */
function columnsDiffer(left: Column, right: Column, name: string): string {
  const kind = hashKind(left);
  if (kind !== hashKind(right)) return `${columnHash({ ...left, name }, 1, 'l.')} IS DISTINCT FROM ${columnHash({ ...right, name }, 1, 'r.')}`;
  return kind === 'text' ? `l.${name}::text COLLATE "C" IS DISTINCT FROM r.${name}::text COLLATE "C"` : `l.${name} IS DISTINCT FROM r.${name}`;
}

/**
 * The query of the keys (as `k0, k1, ...` texts) whose rows differ or one side lacks, both sides in
 * one database: one join by key, the pairs of columns compared as their hashes would be.
 */
function differingSql(left: SideSql, right: SideSql): string {
  const parts = left.keyColumns.length;
  // by the key's own columns where both sides' types agree (an index can serve the join), else by its text and compared as the fields are
  const native = left.keyColumns.every((key, i) => key.type === right.keyColumns[i]!.type);
  const pairs = [...(native ? [] : left.keyColumns.map((key, i) => [key, right.keyColumns[i]!] as const)),
    ...left.fieldColumns.map((field, i) => [field, right.fieldColumns[i]!] as const)];
  const sideRows = (sql: SideSql, side: 0 | 1) => {
    const keys = sql.keyColumns.map((key, i) => `${ident(key.name)}${native ? '' : '::text'} AS j${i}`);
    const values = pairs.map((pair, i) => `${ident(pair[side].name)} AS c${i}`);
    return `SELECT ${['true AS p', ...keys, ...values].join(', ')} FROM ${sql.side.ref.from} WHERE ${sql.keyNotNull}`;
  };
  const differ = ['l.p IS NULL', 'r.p IS NULL', ...pairs.map(([mine, theirs], i) => columnsDiffer(mine, theirs, `c${i}`))];
  return `SELECT ${Array.from({ length: parts }, (_, i) => `coalesce(l.j${i}, r.j${i})::text AS k${i}`).join(', ')} ` +
    `FROM (${sideRows(left, 0)}) l FULL JOIN (${sideRows(right, 1)}) r ON ${left.keyColumns.map((_, i) => `l.j${i} = r.j${i}`).join(' AND ')} ` +
    `WHERE ${differ.join(' OR ')}`;
}

/** Both sides in one database: one query joins them by key and returns the keys whose rows differ. */
async function pushedDown(left: SideSql, right: SideSql): Promise<{ ids: Set<string>; leftTotal: number }> {
  const rows = await query(left.side, differingSql(left, right));
  const [{ n }] = await query(left.side, `SELECT count(*)::int8 AS n FROM ${left.side.ref.from} WHERE ${left.keyNotNull}`) as [{ n: string }];
  return { ids: new Set(rows.map((row) => keyId(row, left.keyColumns.length))), leftTotal: Number(n) };
}

/** What comparing two sides in their databases found: the keys that may differ, and what the rows with a null key part are to be read by. */
interface Narrowed {
  /** The keys (as `keyId` texts: JSON lists of the key columns' texts) whose rows differ, one side lacks, or a side holds more than once. */
  ids: string[];
  /** The rows of the left side with a whole key. */
  leftTotal: number;
  left: SideSql;
  right: SideSql;
  stats: Record<string, number>;
}

/** The SQL of two sides compared on `fields` (see `narrowOn`); undefined when a side lacks a key column or a compared column. */
async function sidesOf(connections: [Connection, Connection], refs: [RelationRef, RelationRef], fields: string[] | [string[], string[]] | undefined):
  Promise<[SideSql, SideSql] | undefined> {
  const [leftSide, rightSide] = await Promise.all([sideOf(connections[0], refs[0]), sideOf(connections[1], refs[1])]);
  const paired = Array.isArray(fields?.[0]) ? fields as [string[], string[]] : undefined;
  const same = paired ? undefined : comparedFields(leftSide, rightSide, fields as string[] | undefined);
  const [mine, theirs] = paired ?? [same, same];
  const has = (side: Side, columns: string[]) => columns.every((name) => side.columns.has(name));
  if (!mine || !theirs || mine.length !== theirs.length || !has(leftSide, [...refs[0].key, ...mine]) || !has(rightSide, [...refs[1].key, ...theirs])) return undefined;
  return [new SideSql(leftSide, mine), new SideSql(rightSide, theirs)];
}

/**
 * The keys of two sides that may differ, found where their rows are: one query when both are read
 * on one connection (`sql`), a checksum bisection when on two. `fields` are the compared columns:
 * the same names on both sides (default the left's columns but the key), or a list for each side,
 * paired by position. Undefined when a side lacks a key column or a compared column.
 */
async function narrowOn(connections: [Connection, Connection], refs: [RelationRef, RelationRef], fields: string[] | [string[], string[]] | undefined,
  signal?: AbortSignal, bisection?: Required<BisectionOptions>): Promise<Narrowed | undefined> {
  const sides = await sidesOf(connections, refs, fields);
  if (!sides) return undefined;
  const [l, r] = sides;
  const stats: Record<string, number> = {};
  const duplicated = (await Promise.all([duplicatedKeys(l), duplicatedKeys(r)])).flat();
  const found = connections[0] === connections[1] ? await pushedDown(l, r) : await bisect(l, r, bisection!, stats, signal);
  signal?.throwIfAborted();
  for (const id of duplicated) found.ids.add(id);
  return { ids: [...found.ids], leftTotal: found.leftTotal, left: l, right: r, stats };
}

/**
 * Runs `work` on a connection in a transaction of the caller's with JIT compilation off, and puts
 * the setting back after it succeeded: a table without statistics (a temporary one) can make the planner expect
 * so many rows that compiling the query costs more than running it (seen: 0.5 s for 100,000 rows).
 */
async function withoutJit<T>(connection: Connection, work: () => Promise<T>): Promise<T> {
  const [{ jit }] = await connection.run("SELECT current_setting('jit') AS jit, set_config('jit', 'off', true)", []) as [{ jit: string }];
  connection.queries++;
  // after a failure the transaction is aborted and takes the setting back as it ends: a statement now would fail in place of the failure
  const result = await work();
  connection.queries++;
  await connection.run("SELECT set_config('jit', $1, true)", [jit]);
  return result;
}

/**
 * Two sides of one database read on one connection (the session of a transaction), compared
 * there by one query: the keys that may differ, as lists of the key columns' texts. `fields`
 * are the compared columns of each side, paired by position. Undefined when a side lacks one.
 */
export async function narrowInSession(connection: Connection, left: RelationRef, right: RelationRef, fields: [string[], string[]]):
  Promise<{ keys: string[][]; leftTotal: number; nullable: [boolean, boolean]; stats: Record<string, number> } | undefined> {
  const found = await withoutJit(connection, () => narrowOn([connection, connection], [left, right], fields));
  if (!found) return undefined;
  found.stats.queries = connection.queries;
  return { keys: found.ids.map((id) => JSON.parse(id) as string[]), leftTotal: found.leftTotal,
    nullable: [found.left.keyNotNull !== 'TRUE', found.right.keyNotNull !== 'TRUE'], stats: found.stats };
}

/**
 * Two relations of a transaction's session, each given as a query whose columns are the key's
 * `key` and the compared `fields` (the same names on both sides, no two rows of one key),
 * compared there: the keys whose rows differ or one side lacks are written, as the key columns'
 * texts `k0, k1, ...`, into the new temporary table `table` (dropped at commit), without leaving
 * the database. Returns the number of keys written.
 */
export async function differingKeysInto(session: SqlSession, selects: [string, string], key: string[], fields: string[], table: string): Promise<number> {
  const views = [`${table}_left`, `${table}_right`] as const;
  for (const [i, view] of views.entries()) await session.run(`CREATE TEMPORARY VIEW ${view} AS ${selects[i]}`);
  const connection = sessionConnection(session);
  const refs = views.map((view) => ({ qualified: view, from: view, key, uniqueKey: true })) as [RelationRef, RelationRef];
  const sides = await sidesOf([connection, connection], refs, [fields, fields]);
  if (!sides) throw new Error(`${views.join(' or ')} lacks one of ${[...key, ...fields].join(', ')}`);
  await withoutJit(connection, () => query(sides[0].side, `CREATE TEMPORARY TABLE ${table} ON COMMIT DROP AS ${differingSql(...sides)}`));
  await session.run(`DROP VIEW ${views[1]}, ${views[0]}`);
  const [{ n }] = await query(sides[0].side, `SELECT count(*)::int8 AS n FROM ${table}`) as [{ n: string }];
  return Number(n);
}

/** A table's rows with a null key part, shaped as the source's records. */
async function nullKeyRows(sql: SideSql, ref: TableRef): Promise<Record<string, unknown>[]> {
  if (sql.keyNotNull === 'TRUE') return [];
  const keyTypes = sql.keyColumns.map((key) => key.type);
  return (await query(sql.side, `SELECT ${sql.select} FROM ${ref.from} WHERE NOT (${sql.keyNotNull})`)).map((row) => ref.shape(row, keyTypes));
}

/**
 * The records of two tables that may differ, found in their databases: `sql` for two tables of
 * one database, `bisect` for two. Undefined when they cannot be compared there (another key, a
 * compared field a side lacks); the diff then reads both.
 */
export async function narrowTables(left: TableRef, right: TableRef, request: NarrowRequest): Promise<DiffCandidates | undefined> {
  const sameKey = (ref: TableRef) => ref.key.length === request.key.length && ref.key.every((name, i) => name === request.key[i]);
  if (!sameKey(left) || !sameKey(right)) return undefined;
  const together = sameDatabase(left.url, right.url);
  const opened = together ? [await connect(left.url)] : await Promise.all([connect(left.url), connect(right.url)]);
  try {
    const found = await narrowOn([opened[0]!, opened.at(-1)!], [left, right], request.fields, request.signal, left.bisection);
    if (!found) return undefined;
    const [lefts, rights, leftNulls, rightNulls] = await Promise.all([fetchRows(found.left, left, found.ids), fetchRows(found.right, right, found.ids),
      nullKeyRows(found.left, left), nullKeyRows(found.right, right)]);
    const { stats } = found;
    stats.rowsFetched = lefts.length + rights.length;
    stats.queries = opened.reduce((sum, connection) => sum + connection.queries, 0);
    return { strategy: together ? 'sql' : 'bisect', left: [...lefts, ...leftNulls], right: [...rights, ...rightNulls], unchanged: found.leftTotal - lefts.length, stats };
  } finally {
    await Promise.all(opened.map(disconnect));
  }
}
