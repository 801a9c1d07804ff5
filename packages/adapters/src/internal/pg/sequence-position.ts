import { ident, literal, type SqlSession } from './sql-session.js';
import type { CatalogColumn } from './table-catalog.js';
import type { TableNode } from './table-graph.js';

/** SQL of the last value a sequence gave (one increment below its start before its first), without drawing from it. */
export function lastValue(sequence: string): string {
  return `(SELECT CASE WHEN is_called THEN last_value ELSE last_value - ` +
    `(SELECT seqincrement FROM pg_sequence WHERE seqrelid = ${literal(sequence)}::regclass) END FROM ${sequence})`;
}

/**
 * Moves the sequence of `column` past the column's highest value in `table` when explicit values
 * left it behind, so that the app's next insert does not draw a taken key; `dryRun` only tells.
 * True when the sequence was (or would be) moved.
 */
export async function advanceSequence(session: SqlSession, table: TableNode, column: CatalogColumn, dryRun = false): Promise<boolean> {
  const [row] = await session.query<{ v: string | null }>(
    `SELECT ${dryRun ? 'm.v' : `setval(${literal(column.sequence!)}, m.v)`}::text AS v ` +
    `FROM (SELECT max(${ident(column.name)}) AS v FROM ${table.qualified}) m ` +
    `WHERE m.v IS NOT NULL AND m.v > ${lastValue(column.sequence!)}`);
  return !!row?.v;
}
