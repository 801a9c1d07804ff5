import pg from 'pg';

/** Rows and an order-free hash of their text, per table: equal digests mean equal contents. */
export async function digest(url: string, tables: string[]): Promise<Map<string, string>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const digests = new Map<string, string>();
    for (const table of tables) {
      const { rows } = await client.query<{ n: string; h: string }>(
        `SELECT count(*) AS n, coalesce(sum(hashtextextended(t::text, 0)), 0) AS h FROM ${table} t`);
      digests.set(table, `${rows[0]!.n}/${rows[0]!.h}`);
    }
    return digests;
  } finally {
    await client.end();
  }
}

/** Tables whose digest differs from the source's. */
export function differences(source: Map<string, string>, copy: Map<string, string>): string[] {
  return [...source].filter(([table, value]) => copy.get(table) !== value).map(([table]) => table);
}
