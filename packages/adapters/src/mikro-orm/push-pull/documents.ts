import { ident, arrayLiteral, literal, type SqlSession } from '../../internal/pg/sql-session.js';
import { keyJson, tenantText, type ServedModel } from './served-models.js';

// jsonb_build_object takes at most 100 arguments
const PAIRS_PER_CALL = 40;

/** How a pull writes a row: an object keyed by property name, or an array of the values in the order of the model's fields. */
export type DocumentForm = 'objects' | 'arrays';

// `jsonb_build_object('property', t."column", ...)` of a served model's row, in calls of at most 40 pairs joined by `||`;
// as `arrays`, `jsonb_build_array(t."column", ...)` of the values alone.
export function documentSql(model: ServedModel, row: string, form: DocumentForm = 'objects'): string {
  const values = model.fields.map((field) => (form === 'arrays' ? `${row}.${ident(field.column.name)}` : `${literal(field.property)}, ${row}.${ident(field.column.name)}`));
  const calls: string[] = [];
  for (let i = 0; i < values.length; i += PAIRS_PER_CALL) calls.push(`jsonb_build_${form === 'arrays' ? 'array' : 'object'}(${values.slice(i, i + PAIRS_PER_CALL).join(', ')})`);
  return calls.join(' || ') || (form === 'arrays' ? "'[]'::jsonb" : "'{}'::jsonb");
}

/** A capture key (`[1]`, `[ "a", 2 ]`...) in one spelling, whatever spaces the text it came from had. */
export const keyText = (key: string): string => JSON.stringify(JSON.parse(key));

/**
 * The documents (by property name, a foreign key as the id it holds, nothing `@SyncModel` keeps
 * back) of the rows of `model` with these capture keys, by `keyText`; with `tenant`, only rows
 * still in that tenant, and with `condition` (SQL on the row `t`), only rows it holds for. What a pull sends and a push answers a conflict with: one shape for both.
 */
export async function readDocuments(session: SqlSession, model: ServedModel, keys: string[], tenant?: string, condition = 'true'): Promise<Map<string, Record<string, unknown>>> {
  if (!keys.length) return new Map();
  const rows = await session.query<{ key: string; doc: string }>(
    `SELECT ${keyJson(model, 't')}::text AS key, (${documentSql(model, 't')})::text AS doc FROM ${model.table.qualified} t ` +
    `WHERE (${condition}) AND ${model.tenant && tenant !== undefined ? `${tenantText(model, 't')} = ${literal(tenant)} AND ` : ''}(${model.key.map((column) => `t.${ident(column.name)}`).join(', ')}) IN ` +
    `(SELECT ${model.key.map((column, i) => `(k->>${i})::${column.type}`).join(', ')} FROM unnest(?::jsonb[]) k)`, [arrayLiteral(keys)]);
  return new Map(rows.map((row) => [keyText(row.key), JSON.parse(row.doc) as Record<string, unknown>]));
}

/**
 * A scalar subquery giving the document text of the row of `model` that a version row (`version`,
 * with its `key`) names: found by its primary key (at most one), with `tenant` still that
 * tenant's and `condition` (SQL on the row `t`) holding; NULL otherwise. What a pull reads its
 * documents with in the statement that reads its page: the keys make no round trip, and the text
 * is the one `readDocuments` parses. A scalar subquery, run per version by the key index: as a
 * join, the planner may hash the whole table for one page.
 */
export function versionDocumentSql(model: ServedModel, version: string, tenant?: string, condition = 'true', form: DocumentForm = 'objects'): string {
  return `(SELECT (${documentSql(model, 't', form)})::text FROM ${model.table.qualified} t WHERE (${condition}) AND ` +
    `${model.tenant && tenant !== undefined ? `${tenantText(model, 't')} = ${literal(tenant)} AND ` : ''}` +
    `${model.key.map((column, i) => `t.${ident(column.name)} = (${version}.key->>${i})::${column.type}`).join(' AND ')})`;
}
