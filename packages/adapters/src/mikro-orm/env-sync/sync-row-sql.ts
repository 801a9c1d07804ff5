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

/**
 * The SQL of a model's travelling row: the same text on the source and on a target holding the
 * same data. A reference's natural key is a JSON array, or with `references: 'row'` a row literal
 * (cheaper, for digests).
 */
export function travellingRow(plan: SyncModelPlan, keys: NaturalKeySql, references: 'json' | 'row' = 'json'): TravellingRow {
  const own = keys.keyOf(plan.name, 't');
  const joins = [...own.joins];
  const referenceKeys = plan.references.map((fk, j) => {
    const alias = `ref${j}`;
    const on = fk.columns.map((column, i) => `${alias}.${ident(fk.referenced[i]!.name)} = t.${ident(column.name)}`).join(' AND ');
    joins.push(`LEFT JOIN ${fk.parent.qualified} ${alias} ON ${on}`);
    const parent = keys.keyOf(fk.parent.entity, alias);
    joins.push(...parent.joins);
    return `CASE WHEN ${fk.columns.map((column) => `t.${ident(column.name)} IS NOT NULL`).join(' AND ')} ` +
      `THEN ${references === 'json' ? 'json_build_array' : 'ROW'}(${parent.expressions.join(', ')})::text END`;
  });
  return {
    joins,
    primaryKey: plan.table.primaryKey.map((column) => `t.${ident(column.name)}`),
    key: own.expressions,
    values: plan.columns.map((column) => `t.${ident(column.name)}::text`),
    references: referenceKeys,
  };
}

/**
 * The digest of every row a model would send, `<rows>:<md5>`, order-free (the sum of two 64-bit
 * hashes of each row's text, hashed), or undefined for a model with file fields (its target
 * holds its own file references, so the two sides' digests never match). Equal on source and
 * target exactly when both hold the same rows by natural key, whatever ids each gave them (a
 * collision aside: 128 bits; digests that differ for equal rows, say between machines of
 * different byte order, only cost the transfer of rows the target had).
 */
export async function syncDigest(session: SqlSession, plan: SyncModelPlan, keys: NaturalKeySql): Promise<string | undefined> {
  if (plan.fileColumns.size) return undefined;
  const row = travellingRow(plan, keys, 'row');
  // by name, so that the two sides' column orders do not matter
  const byName = <T extends { name: string }>(items: T[], sql: string[]) => items.map((item, i) => [item.name, sql[i]!] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  const parts = [...row.key, ...byName(plan.columns, row.values), ...byName(plan.references, row.references)];
  const sum = (seed: number) => `coalesce(sum(hashtextextended(r COLLATE "C", ${seed})), 0)::text`;
  const [result] = await session.query<{ n: string; d: string }>(
    `SELECT count(*)::text AS n, md5(${sum(0)} || ':' || ${sum(1)}) AS d FROM (SELECT ROW(${parts.join(', ')})::text AS r FROM ${plan.table.qualified} t ${row.joins.join(' ')}) x`);
  return `${result!.n}:${result!.d}`;
}
