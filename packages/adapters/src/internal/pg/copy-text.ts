import type { SqlSession } from './sql-session.js';

/** A value in COPY text format: \N for null; backslash, tab, newline and carriage return escaped. */
export function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return /[\\\t\n\r]/.test(value)
    ? value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'))
    : value;
}

/**
 * Sends rows of text values (null for NULL) into `columns` of a table with COPY, `size` rows at a
 * time. `add` returns a promise only when it sends (await it then), so that queueing a row costs no promise.
 */
export function lineCopy(session: SqlSession, table: string, size: number, columns = ['line']):
  { add(...values: (string | null)[]): Promise<void> | undefined; finish(): Promise<void> } {
  let buffer = '';
  let buffered = 0;
  const send = async () => {
    if (buffered) await session.copyIn(`COPY ${table} (${columns.join(', ')}) FROM STDIN`, buffer);
    buffer = '';
    buffered = 0;
  };
  return {
    add(...values) {
      buffer += `${values.map(copyText).join('\t')}\n`;
      return ++buffered >= size ? send() : undefined;
    },
    finish: send,
  };
}
