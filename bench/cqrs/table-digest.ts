import pg from 'pg';
import { ACCOUNT_COLUMNS } from './entities.js';

/** Rows and an order-free hash of `columns` (default: the account columns) of `table`: equal digests mean equal contents. */
export async function tableDigest(url: string, table: string, columns = ACCOUNT_COLUMNS): Promise<{ rows: number; hash: string }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string; h: string }>(
      `SELECT count(*) AS n, coalesce(sum(hashtextextended(row(${columns.join(', ')})::text, 0)), 0)::text AS h FROM ${table}`);
    return { rows: Number(rows[0]!.n), hash: rows[0]!.h };
  } finally {
    await client.end();
  }
}

/** Runs statements on a short-lived connection; returns the rows of the last one. */
export async function sql<T extends object = Record<string, unknown>>(url: string, ...statements: string[]): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let rows: T[] = [];
    for (const statement of statements) rows = (await client.query<T>(statement)).rows;
    return rows;
  } finally {
    await client.end();
  }
}
