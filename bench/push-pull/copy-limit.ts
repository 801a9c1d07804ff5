import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { since, type Throughput } from '../graph/measure.js';
import { ITEM_COLUMNS } from './entities.js';

/**
 * The limit of reading a tenant's rows out of PostgreSQL: `COPY (SELECT <the pulled columns> FROM
 * pp_item WHERE tenant = ...) TO STDOUT` in text format, read to the end by a client that only
 * counts the lines (rows).
 */
export async function copyTenant(url: string, tenant: string): Promise<Throughput> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const start = performance.now();
    let rows = 0;
    const stream = client.query(copyTo(`COPY (SELECT ${ITEM_COLUMNS.join(', ')} FROM pp_item WHERE tenant = '${tenant}') TO STDOUT`));
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) rows += 1;
    }
    return { rows, seconds: since(start) };
  } finally {
    await client.end();
  }
}
