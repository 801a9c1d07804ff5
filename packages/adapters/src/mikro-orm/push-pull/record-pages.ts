import { AuditError, OptionError } from '@entity-sync/core';
import { stringify } from 'csv-stringify/sync';

/**
 * The cursor of a table read by id a page at a time (the audit trail, the sync log): the id of a
 * page's last entry behind a prefix, so that a cursor of one is refused by the other.
 */
export function idCursor(prefix: string, of: 'audit trail' | 'sync log') {
  const pattern = new RegExp(`^${prefix}:(\\d{1,19})$`);
  return {
    encode: (id: string) => Buffer.from(`${prefix}:${id}`).toString('base64url'),
    decode(cursor: string): string {
      const id = pattern.exec(Buffer.from(cursor, 'base64url').toString('utf8'))?.[1];
      if (!id) throw AuditError.cursorInvalid(cursor, of);
      return id;
    },
  };
}

/** A page size option: 100 by default, at most 10,000. */
export function pageSize(fn: string, limit: unknown): number {
  const size = limit ?? 100;
  if (!Number.isInteger(size) || (size as number) < 1 || (size as number) > 10_000) throw OptionError.invalid(fn, 'limit', limit, 'a whole number from 1 to 10,000');
  return size as number;
}

/** Checks that the time-range options given are valid dates. */
export function checkTimeRange(fn: string, options: { since?: unknown; until?: unknown }): void {
  for (const name of ['since', 'until'] as const) {
    const value = options[name];
    if (value !== undefined && !(value instanceof Date && !Number.isNaN(value.getTime()))) throw OptionError.invalid(fn, name, value, 'a valid Date');
  }
}

/**
 * Every entry of a paged read as CSV (a header line first) or NDJSON, a page of lines at a time:
 * `page(cursor)` reads 1,000 entries from a cursor; `row` gives an entry's CSV cells.
 */
export async function* pagedLines<E>(fn: string, format: unknown, page: (cursor: string | null) => Promise<{ entries: E[]; cursor: string | null }>,
  header: string[], row: (entry: E) => unknown[]): AsyncGenerator<string> {
  if (format !== 'csv' && format !== 'ndjson') throw OptionError.invalid(fn, 'format', format, "'csv' or 'ndjson'");
  if (format === 'csv') yield stringify([header]);
  let cursor: string | null = null;
  do {
    const read: { entries: E[]; cursor: string | null } = await page(cursor);
    if (read.entries.length) yield format === 'csv' ? stringify(read.entries.map(row)) : read.entries.map((entry) => `${JSON.stringify(entry)}\n`).join('');
    cursor = read.cursor;
  } while (cursor);
}
