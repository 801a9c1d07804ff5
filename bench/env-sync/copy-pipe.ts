import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import type { Throughput } from '../graph/measure.js';
import { since } from '../graph/measure.js';

/**
 * The limit of moving rows between two databases: every table's `COPY ... TO STDOUT` on the
 * source piped straight into `COPY ... FROM STDIN` on the target (empty tables, same schema),
 * parents first, the source read in one snapshot and the target written in one transaction.
 * `rows` are the rows `COPY FROM` reports.
 */
export async function copyPipe(sourceUrl: string, targetUrl: string, tables: readonly string[]): Promise<Throughput> {
  const source = new pg.Client({ connectionString: sourceUrl });
  const target = new pg.Client({ connectionString: targetUrl });
  await Promise.all([source.connect(), target.connect()]);
  try {
    const start = performance.now();
    await Promise.all([source.query('BEGIN ISOLATION LEVEL REPEATABLE READ'), target.query('BEGIN')]);
    let rows = 0;
    for (const table of tables) {
      const into = target.query(copyFrom(`COPY ${table} FROM STDIN`));
      await pipeline(source.query(copyTo(`COPY ${table} TO STDOUT`)), into);
      rows += into.rowCount;
    }
    await Promise.all([source.query('COMMIT'), target.query('COMMIT')]);
    return { rows, seconds: since(start) };
  } finally {
    await Promise.allSettled([source.end(), target.end()]);
  }
}
