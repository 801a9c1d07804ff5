import { sql } from '../cqrs/table-digest.js';
import { referenceTables, type ReferenceTable } from './entities.js';
import type { ReferenceShape } from './generate.js';

// Every column of every table with each foreign key replaced by the natural key of the row it
// points at, and no id: two databases give the same rows here exactly when they hold the same
// reference data, whatever ids each gave its rows.
const BY_NATURAL_KEY: Record<ReferenceTable, string> = {
  region: 'select t.code, t.name from region t',
  currency: 'select t.code, t.name, t.symbol, t.decimals from currency t',
  country: `select t.code, t.name, r.code as region, cu.code as currency, t.phone_prefix, t.active
    from country t join region r on r.id = t.region_id join currency cu on cu.id = t.currency_id`,
  language: 'select c.code as country, t.code, t.name, t.right_to_left from language t join country c on c.id = t.country_id',
  copy_text: `select c.code as country, l.code as language, t.key, t.body, t.format, t.max_length
    from copy_text t join language l on l.id = t.language_id join country c on c.id = l.country_id`,
};

/**
 * Rows and an order-free hash of the natural-key-joined rows, per table; with `firstRows`, of
 * only the rows with ids up to that count (a sample taken by id from a database whose ids start at 1).
 */
export async function naturalKeyDigest(url: string, firstRows?: ReferenceShape): Promise<Map<ReferenceTable, string>> {
  const digests = new Map<ReferenceTable, string>();
  for (const table of referenceTables) {
    const where = firstRows ? ` where t.id <= ${firstRows[table]}` : '';
    const [row] = await sql<{ n: string; h: string }>(url,
      `select count(*) as n, coalesce(sum(hashtextextended(row(r.*)::text, 0)), 0) as h from (${BY_NATURAL_KEY[table]}${where}) r`);
    digests.set(table, `${row!.n} rows/${row!.h}`);
  }
  return digests;
}
