import { OptionError, type DiffSource } from '@entity-sync/core';
import { ident } from '../../internal/pg/sql-session.js';
import { failed, narrowTables, openClient, type BisectionOptions, type TableRef } from '../../internal/pg/table-compare.js';

/** Options of `fromTable`. */
export interface TableSourceOptions {
  /** The key columns: records are read and merged in their order. */
  key: string | string[];
  /** The columns each record carries besides the key (default every column). */
  columns?: string[];
  /** The table's schema (default the connection's search path). */
  schema?: string;
  /** Rows read a query at a time (default 5,000). */
  pageSize?: number;
  /** Against a table of another database (checksum bisection): how the left side splits the keys. */
  bisection?: BisectionOptions;
}

const bigintOf = (text: string) => (Number.isSafeInteger(Number(text)) ? Number(text) : BigInt(text));

/** Tables behind the sources `fromTable` made, for `narrow` to recognize the other side. */
const tables = new WeakMap<object, TableRef>();

/**
 * A table of any PostgreSQL database as a diff source, by its connection URL, with no ORM: the
 * rows in key order (`COLLATE "C"` for text keys, the diff's own order), a page at a time by
 * keyset, each a record of its columns. It says it is sorted, so a diff against another sorted
 * source merges in constant memory. Against another `fromTable` source, the two find their
 * differences in their databases and only those rows are read: one query joining both tables
 * when they are in one database (`sql`), checksums of key-hash buckets computed in each
 * database and split where they differ when in two (`bisect`).
 *
 * @example
 * ```ts
 * const live = fromTable('postgres://app@db/app', 'students', { key: 'student_no' });
 * ```
 */
export function fromTable(url: string, table: string, options: TableSourceOptions): DiffSource<Record<string, unknown>> {
  const key = options?.key === undefined ? [] : [options.key].flat();
  if (!key.length || key.some((column) => typeof column !== 'string' || !column)) throw OptionError.invalid('fromTable', 'key', options?.key, 'the key column, or a list of them');
  const pageSize = options.pageSize ?? 5000;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw OptionError.invalid('fromTable', 'pageSize', options.pageSize, 'a whole number of 1 or more');
  const { buckets = 1024, listBelow = 10_000 } = options.bisection ?? {};
  if (!Number.isInteger(Math.log2(buckets)) || buckets < 2 || buckets > 2 ** 20) throw OptionError.invalid('fromTable', 'bisection.buckets', buckets, 'a power of two from 2 to 1,048,576');
  if (!Number.isInteger(listBelow) || listBelow < 0) throw OptionError.invalid('fromTable', 'bisection.listBelow', listBelow, 'a whole number of rows, 0 or more');
  const qualified = `${options.schema ? `${ident(options.schema)}.` : ''}${ident(table)}`;
  const shownUrl = url.replace(/\/\/[^@/]*@/, '//');
  // a bigint comes as text: as a number (or a bigint past 2^53) it orders as the database orders it
  const shape = (row: Record<string, unknown>, types: string[]) => {
    for (const [i, column] of key.entries()) if (types[i] === 'bigint' && typeof row[column] === 'string') row[column] = bigintOf(row[column] as string);
    return row;
  };
  const ref: TableRef = { url, qualified, from: qualified, key, bisection: { buckets, listBelow }, ...(options.columns ? { columns: options.columns } : {}), shape };
  const source: DiffSource<Record<string, unknown>> = {
    name: `table ${table} of ${shownUrl}`,
    sortedBy: key.length === 1 ? key[0]! : key,
    narrow: async (other, request) => {
      const theirs = tables.get(other);
      return theirs ? narrowTables(ref, theirs, request).catch((error: unknown) => {
        throw failed(error, `${source.name} against ${other.name}`, request.signal);
      }) : undefined;
    },
    async *records(signal) {
      try {
        yield* read(signal);
      } catch (error) {
        throw failed(error, source.name, signal);
      }
    },
  };
  /** The table's rows in key order, a page at a time. */
  async function* read(signal?: AbortSignal) {
    const client = await openClient(url);
    try {
      const [{ types, nullable }] = (await client.query(`SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.n) AS types, bool_or(NOT a.attnotnull) AS nullable ` +
        `FROM unnest($1::text[]) WITH ORDINALITY k(name, n) JOIN pg_attribute a ON a.attrelid = $2::regclass AND a.attname = k.name`, [key, qualified])).rows as [{ types: string[] | null; nullable: boolean }];
      if (types?.length !== key.length) throw OptionError.invalid('fromTable', 'key', options.key, `columns of ${qualified}`);
      // texts in code point order, as the diff merges them
      const ordered = key.map((column, i) => `${ident(column)}${/char|text/.test(types[i]!) ? ' COLLATE "C"' : ''}`);
      const select = options.columns ? [...new Set([...key, ...options.columns])].map(ident).join(', ') : '*';
      // pages of the rows with a whole key (a keyset cannot pass a null), then those without one
      const whole = key.map((column) => `${ident(column)} IS NOT NULL`).join(' AND ');
      let after: unknown[] | undefined;
      for (;;) {
        signal?.throwIfAborted();
        const past = after ? ` AND (${ordered.join(', ')}) > (${key.map((_, i) => `$${i + 1}${/char|text/.test(types[i]!) ? ' COLLATE "C"' : ''}`).join(', ')})` : '';
        const { rows } = await client.query(`SELECT ${select} FROM ${qualified} WHERE ${whole}${past} ORDER BY ${ordered.join(', ')} LIMIT ${pageSize}`, after ?? []);
        for (const row of rows) yield shape(row, types);
        if (rows.length < pageSize) break;
        after = key.map((column) => rows.at(-1)![column]);
      }
      if (nullable) for (const row of (await client.query(`SELECT ${select} FROM ${qualified} WHERE NOT (${whole})`)).rows) yield shape(row, types);
    } finally {
      await client.end();
    }
  }
  tables.set(source, ref);
  return source;
}
