import { ident, type SqlSession } from '../../internal/pg/sql-session.js';
import type { NaturalKeySql, SyncModelPlan } from './sync-model-plan.js';

/** A model's row as it travels, as SQL text expressions on the table aliased `t`, with the joins they need. */
export interface TravellingRow {
  joins: string[];
  /** The primary key (for paging; it never travels). */
  primaryKey: string[];
  /** The natural key. */
  key: string[];
  /** The value columns. */
  values: string[];
  /** Per reference: the natural key of the row pointed at as a JSON array, or NULL when the foreign key is NULL. */
  references: string[];
}

/** The SQL of a model's travelling row: the same text on the source and on a target holding the same data. */
export function travellingRow(plan: SyncModelPlan, keys: NaturalKeySql): TravellingRow {
  const own = keys.keyOf(plan.name, 't');
  const joins = [...own.joins];
  const references = plan.references.map((fk, j) => {
    const alias = `ref${j}`;
    const on = fk.columns.map((column, i) => `${alias}.${ident(fk.referenced[i]!.name)} = t.${ident(column.name)}`).join(' AND ');
    joins.push(`LEFT JOIN ${fk.parent.qualified} ${alias} ON ${on}`);
    const parent = keys.keyOf(fk.parent.entity, alias);
    joins.push(...parent.joins);
    return `CASE WHEN ${fk.columns.map((column) => `t.${ident(column.name)} IS NOT NULL`).join(' AND ')} ` +
      `THEN json_build_array(${parent.expressions.join(', ')})::text END`;
  });
  return {
    joins,
    primaryKey: plan.table.primaryKey.map((column) => `t.${ident(column.name)}`),
    key: own.expressions,
    values: plan.columns.map((column) => `t.${ident(column.name)}::text`),
    references,
  };
}

/**
 * The digest of every row a model would send, `<rows>:<md5>`, order-free (the rows' own hashes are
 * sorted bytewise), or undefined for a model with file fields (its target holds its own file
 * references, so the two sides' digests never match). Equal on source and target exactly when
 * both hold the same rows by natural key, whatever ids each gave them.
 */
export async function syncDigest(session: SqlSession, plan: SyncModelPlan, keys: NaturalKeySql): Promise<string | undefined> {
  if (plan.fileColumns.size) return undefined;
  const row = travellingRow(plan, keys);
  // by name, so that the two sides' column orders do not matter
  const byName = <T extends { name: string }>(items: T[], sql: string[]) => items.map((item, i) => [item.name, sql[i]!] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  const parts = [...row.key, ...byName(plan.columns, row.values), ...byName(plan.references, row.references)];
  const text = `json_build_array(${parts.join(', ')})::text`;
  const [result] = await session.query<{ n: string; d: string | null }>(
    `SELECT count(*)::text AS n, md5(string_agg(h, '' ORDER BY h COLLATE "C")) AS d FROM (SELECT md5(${text}) AS h FROM ${plan.table.qualified} t ${row.joins.join(' ')}) x`);
  return `${result!.n}:${result!.d ?? ''}`;
}
