import type { GraphDocument } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';

/** The schema an ORM of the test backends works in (PGlite: one per ORM; PostgreSQL: public). */
export function schemaOf(orm: MikroORM): string {
  return orm.config.get('schema') ?? 'public';
}

/** Runs a query in which `$s` stands for the ORM's quoted schema. */
export async function sql<T = Record<string, unknown>>(orm: MikroORM, query: string): Promise<T[]> {
  return orm.em.getConnection().execute<T[]>(query.replaceAll('$s', `"${schemaOf(orm)}"`)) as Promise<T[]>;
}

/** One number from a query that selects it as `n`. */
export async function count(orm: MikroORM, query: string): Promise<number> {
  const [row] = await sql<{ n: number | string }>(orm, query);
  return Number(row!.n);
}

/**
 * A key the way both the documents and these tests spell it: the JSON array of the key
 * columns' text, as `array_to_json(ARRAY[col::text, ...])::text` prints it.
 */
export function keyText(key: readonly (string | null)[]): string {
  return JSON.stringify(key);
}

/** Keys of every entity of a document, each list sorted. */
export function documentKeys(document: GraphDocument): Record<string, string[]> {
  const keys: Record<string, string[]> = {};
  for (const entity of document.entities) {
    const positions = entity.primaryKey.map((name) => entity.columns.findIndex((column) => column.name === name));
    keys[entity.name] = document.data[entity.name]!.map((row) => keyText(positions.map((i) => row[i]!))).sort();
  }
  return keys;
}

/** Rows of `select entity, key` grouped by entity, each list sorted; entities without rows left out. */
export async function keysByEntity(orm: MikroORM, query: string): Promise<Record<string, string[]>> {
  const rows = await sql<{ entity: string; key: string }>(orm, query);
  const keys: Record<string, string[]> = {};
  for (const row of rows) (keys[row.entity] ??= []).push(row.key);
  for (const list of Object.values(keys)) list.sort();
  return keys;
}

/** `ORDER BY`-independent form of a key map, for deep equality. */
export function sortedEntries(keys: Record<string, string[]>): [string, string[]][] {
  return Object.entries(keys).filter(([, list]) => list.length > 0).sort(([a], [b]) => a.localeCompare(b));
}

/** Every row of a table as the JSON array of its columns' text, in primary-key order. */
export async function tableText(orm: MikroORM, table: string, columns: string[], primaryKey: string[], where = ''): Promise<string[]> {
  const rows = await sql<{ r: string }>(orm,
    `select array_to_json(array[${columns.map((c) => `t."${c}"::text`).join(', ')}])::text as r from $s."${table}" t ` +
    `${where} order by ${primaryKey.map((c) => `t."${c}"`).join(', ')}`);
  return rows.map((row) => row.r);
}

/** State of every sequence of the ORM's schema: a dry run must leave it as it found it. */
export async function sequenceStates(orm: MikroORM): Promise<Record<string, string>> {
  const names = await sql<{ name: string }>(orm,
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace ` +
    `where c.relkind = 'S' and n.nspname = '${schemaOf(orm)}' order by 1`);
  const states: Record<string, string> = {};
  for (const { name } of names) {
    const [row] = await sql<{ v: string }>(orm, `select last_value::text || ':' || is_called::text as v from $s."${name}"`);
    states[name] = row!.v;
  }
  return states;
}
