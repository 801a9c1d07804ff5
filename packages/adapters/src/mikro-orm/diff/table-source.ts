import { OptionError, type DiffSource } from '@entity-sync/core';
import { loadPeer } from '../../internal/peer.js';
import { ident } from '../../internal/pg/sql-session.js';

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
}

const bigintOf = (text: string) => (Number.isSafeInteger(Number(text)) ? Number(text) : BigInt(text));

type PgClient = { connect(): Promise<void>; query(sql: string, params?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>; end(): Promise<void> };

/**
 * A table of any PostgreSQL database as a diff source, by its connection URL, with no ORM: the
 * rows in key order (`COLLATE "C"` for text keys, the diff's own order), a page at a time by
 * keyset, each a record of its columns. It says it is sorted, so a diff against another sorted
 * source merges in constant memory.
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
  const qualified = `${options.schema ? `${ident(options.schema)}.` : ''}${ident(table)}`;
  const shownUrl = url.replace(/\/\/[^@/]*@/, '//');
  return {
    name: `table ${table} of ${shownUrl}`,
    sortedBy: key.length === 1 ? key[0]! : key,
    async *records(signal) {
      const pg = await loadPeer<{ default: { Client: new (options: { connectionString: string }) => PgClient } }>('pg', 'A PostgreSQL table as a diff source');
      const client = new pg.default.Client({ connectionString: url });
      await client.connect();
      try {
        const [{ types }] = (await client.query(`SELECT array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.n) AS types FROM unnest($1::text[]) WITH ORDINALITY k(name, n) ` +
          `JOIN pg_attribute a ON a.attrelid = $2::regclass AND a.attname = k.name`, [key, qualified])).rows as [{ types: string[] | null }];
        if (types?.length !== key.length) throw OptionError.invalid('fromTable', 'key', options.key, `columns of ${qualified}`);
        // texts in code point order, as the diff merges them
        const ordered = key.map((column, i) => `${ident(column)}${/char|text/.test(types[i]!) ? ' COLLATE "C"' : ''}`);
        const select = options.columns ? [...new Set([...key, ...options.columns])].map(ident).join(', ') : '*';
        let after: unknown[] | undefined;
        for (;;) {
          signal?.throwIfAborted();
          const where = after ? `WHERE (${ordered.join(', ')}) > (${key.map((_, i) => `$${i + 1}${/char|text/.test(types[i]!) ? ' COLLATE "C"' : ''}`).join(', ')}) ` : '';
          const { rows } = await client.query(`SELECT ${select} FROM ${qualified} ${where}ORDER BY ${ordered.join(', ')} LIMIT ${pageSize}`, after ?? []);
          // a bigint comes as text: as a number (or a bigint past 2^53) it orders as the database orders it
          for (const row of rows) for (const [i, column] of key.entries()) if (types[i] === 'bigint' && typeof row[column] === 'string') row[column] = bigintOf(row[column] as string);
          yield* rows;
          if (rows.length < pageSize) return;
          after = key.map((column) => rows.at(-1)![column]);
        }
      } finally {
        await client.end();
      }
    },
  };
}
