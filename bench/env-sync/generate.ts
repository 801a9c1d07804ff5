import type { Orm } from './orm.js';
import { referenceTables, type ReferenceTable } from './entities.js';

/** Rows per table. */
export type ReferenceShape = Record<ReferenceTable, number>;

// The share of each table in a data set; copy texts take the rest. At 100,000 rows: 20 regions,
// 200 currencies, 1,000 countries, 5,000 languages (five per country), 93,780 copy texts.
const SHARE: Record<Exclude<ReferenceTable, 'copy_text'>, number> = { region: 0.0002, currency: 0.002, country: 0.01, language: 0.05 };

/** Which tables each table's foreign keys point at. */
const PARENTS: Record<ReferenceTable, ReferenceTable[]> = { region: [], currency: [], country: ['region', 'currency'], language: ['country'], copy_text: ['language'] };

/** Row counts of a data set of `total` rows over the five tables (at least one row each). */
export function referenceShape(total: number): ReferenceShape {
  const n = (share: number) => Math.max(1, Math.round(total * share));
  const shape = { region: n(SHARE.region), currency: n(SHARE.currency), country: n(SHARE.country), language: n(SHARE.language), copy_text: 0 };
  shape.copy_text = Math.max(1, total - shape.region - shape.currency - shape.country - shape.language);
  return shape;
}

export const rowsOf = (shape: ReferenceShape) => referenceTables.reduce((sum, table) => sum + shape[table], 0);

// Children are grouped by parent: row i of a child table with c rows points at row ceil(i * p / c)
// of its parent table with p rows. So a language's copy texts sit together, as they are entered,
// and the first rows of a child table point only at the first rows of its parents.
const parentOf = (child: string, childRows: number, parentRows: number) => `((${child}::bigint * ${parentRows} + ${childRows - 1}) / ${childRows})`;

/**
 * A sample of about `rows` rows taken as the first rows (by id) of every table in the same
 * proportions, with every parent its rows point at: what a per-row copy of those rows in
 * dependency order finds in place.
 */
export function sampleShape(shape: ReferenceShape, rows: number): ReferenceShape {
  const share = Math.min(1, rows / rowsOf(shape));
  const sample = Object.fromEntries(referenceTables.map((table) => [table, Math.ceil(shape[table] * share)])) as ReferenceShape;
  for (const child of [...referenceTables].reverse()) {
    for (const parent of PARENTS[child]) {
      sample[parent] = Math.max(sample[parent], Math.ceil((sample[child] * shape[parent]) / shape[child]));
    }
  }
  return sample;
}

/** `INSERT ... SELECT ... FROM generate_series` statements that fill the five tables, ids from 1. */
export function referenceInserts(n: ReferenceShape): string[] {
  return [
    `insert into region (id, code, name) select g, 'R' || lpad(g::text, 4, '0'), 'Region ' || g from generate_series(1, ${n.region}) g`,
    `insert into currency (id, code, name, symbol, decimals) select g, 'CUR' || lpad(g::text, 5, '0'), 'Currency ' || g || ' – münze',
      (array['€', '$', '£', '¥', '₹', 'Fr'])[1 + g % 6] || (g % 10), g % 4 from generate_series(1, ${n.currency}) g`,
    `insert into country (id, code, name, region_id, currency_id, phone_prefix, active) select g, 'C' || lpad(g::text, 6, '0'),
      'Country ' || g || E' "Öst"', ${parentOf('g', n.country, n.region)}, ${parentOf('g', n.country, n.currency)},
      case when g % 7 > 0 then '+' || (1 + g % 998) end, g % 9 > 0 from generate_series(1, ${n.country}) g`,
    // a country has about five languages: consecutive rows get distinct codes
    `insert into language (id, country_id, code, name, right_to_left) select g, ${parentOf('g', n.language, n.country)}, c.code,
      'Language ' || c.code || ' ' || g, c.code in ('ar', 'he')
      from generate_series(1, ${n.language}) g, lateral (select (array['en', 'fr', 'de', 'es', 'ar', 'pt', 'nl', 'he', 'ja', 'it'])[1 + (g - 1) % 10] as code) c`,
    // a language has about twenty texts: consecutive rows get distinct keys
    `insert into copy_text (id, language_id, key, body, format, max_length) select g, ${parentOf('g', n.copy_text, n.language)},
      'ui.' || (array['home', 'checkout', 'account', 'search', 'help'])[1 + g % 5] || '.text_' || ((g - 1) % 997),
      'Text ' || g || E' with "quotes", a tab\\tand a new line\\n, ünïcödé; ' || repeat('lorem ipsum dolor ', 1 + g % 12),
      (array['plain', 'markdown', 'html'])[1 + g % 3], case when g % 4 > 0 then 40 + g % 200 end
      from generate_series(1, ${n.copy_text}) g`,
  ];
}

/** Fills the (empty) schema of `orm` with generated rows, moves its sequences past them, and leaves it vacuumed and analyzed. */
export async function generateReferenceData(orm: Orm, shape: ReferenceShape): Promise<void> {
  await orm.em.fork().transactional(async (em) => {
    for (const sql of referenceInserts(shape)) await em.execute(sql);
    for (const table of referenceTables) await em.execute(`select setval(pg_get_serial_sequence('${table}', 'id'), ${shape[table]})`);
  });
  // hint bits and statistics settled now, so that no measured read pays for them
  await orm.em.getConnection().execute('vacuum (freeze, analyze)');
}
