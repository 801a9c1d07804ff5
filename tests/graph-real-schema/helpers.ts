import type { ImportReport } from '@entity-sync/adapters/mikro-orm';
import type { CellValue, GraphDocument } from '@entity-sync/core';
import type { EntityManager, MikroORM } from '@mikro-orm/core';

export { withTimeout } from '../support/timeout.js';

/** The main schema of an ORM of the test backends (PGlite: one per ORM; PostgreSQL: public). */
export function mainSchema(orm: MikroORM): string {
  return orm.config.get('schema') ?? 'public';
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/**
 * Runs queries with the session settings the graph documents are written in (UTC, ISO
 * dates, hex bytea...), so that a value's text here is the text a document holds.
 */
export async function canonical<T>(orm: MikroORM, work: (run: <R>(sql: string) => Promise<R[]>) => Promise<T>): Promise<T> {
  return orm.em.fork().transactional(async (em: EntityManager) => {
    const run = <R>(sql: string) => (em as unknown as { execute(sql: string): Promise<R[]> }).execute(sql);
    for (const setting of ["TimeZone = 'UTC'", "DateStyle = 'ISO, YMD'", "IntervalStyle = 'postgres'", "bytea_output = 'hex'", 'extra_float_digits = 1']) {
      await run(`SET LOCAL ${setting}`);
    }
    await run(`SET LOCAL search_path TO ${quote(mainSchema(orm))}, public`);
    return work(run);
  });
}

/** `"schema"."table"` of an entity of the ORM (the second schema's table included). */
export function qualifiedTable(orm: MikroORM, entity: string): string {
  const meta = orm.getMetadata().find(entity);
  if (!meta) throw new Error(`no entity ${entity} in the ORM`);
  return `${quote(meta.schema && meta.schema !== '*' ? meta.schema : mainSchema(orm))}.${quote(meta.tableName)}`;
}

/** Every row of a table as the list of its columns' text, keyed by the JSON of its key columns' text. */
export async function rowsByKey(orm: MikroORM, table: string, columns: string[], key: string[]): Promise<Map<string, CellValue[]>> {
  const rows = await canonical(orm, (run) => run<{ k: string; r: string }>(
    `SELECT array_to_json(ARRAY[${key.map((c) => `t.${quote(c)}::text`).join(', ')}])::text AS k, ` +
    `array_to_json(ARRAY[${columns.map((c) => `t.${quote(c)}::text`).join(', ')}])::text AS r FROM ${table} t`));
  return new Map(rows.map((row) => [row.k, JSON.parse(row.r) as CellValue[]]));
}

/** Every row of a document entity, keyed like `rowsByKey`. */
export function documentRowsByKey(document: GraphDocument, entity: string): Map<string, CellValue[]> {
  const header = document.entities.find((e) => e.name === entity);
  if (!header) throw new Error(`no entity ${entity} in the document`);
  const positions = header.primaryKey.map((name) => header.columns.findIndex((column) => column.name === name));
  return new Map(document.data[entity]!.map((row) => [JSON.stringify(positions.map((i) => row[i]!)), row]));
}

/** The text of every row of every table of the schemas (partitioned tables once, through their parent), sorted. */
export async function tableRowTexts(orm: MikroORM, schemas: string[]): Promise<Record<string, string[]>> {
  return canonical(orm, async (run) => {
    const tables = await run<{ s: string; t: string }>(
      `SELECT n.nspname AS s, c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ` +
      `WHERE n.nspname IN (${schemas.map(literal).join(', ')}) AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 2, 1`);
    const texts: Record<string, string[]> = {};
    for (const { s, t } of tables) {
      const rows = await run<{ x: string }>(`SELECT x::text AS x FROM ${quote(s)}.${quote(t)} x ORDER BY x::text COLLATE "C"`);
      texts[t] = rows.map((row) => row.x);
    }
    return texts;
  });
}

/**
 * Row count and md5 of every row's text, per table of both schemas: a partitioned table
 * counts once, through its parent, and its partitions are not listed on their own.
 */
export async function checksums(orm: MikroORM, otherSchema: string): Promise<Record<string, string>> {
  return canonical(orm, async (run) => {
    const tables = await run<{ s: string; t: string }>(
      `SELECT n.nspname AS s, c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace ` +
      `WHERE n.nspname IN (${[mainSchema(orm), otherSchema].map(literal).join(', ')}) AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 2, 1`);
    const sums: Record<string, string> = {};
    for (const { s, t } of tables) {
      const [row] = await run<{ n: number; h: string }>(
        `SELECT count(*)::int AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text COLLATE "C"), '')) AS h FROM ${quote(s)}.${quote(t)} x`);
      sums[s === otherSchema ? `${t} (second schema)` : t] = `${row!.n}:${row!.h}`;
    }
    return sums;
  });
}

/** Row count of one checksum entry. */
export function rowCount(checksum: string | undefined): number {
  return Number(checksum?.split(':')[0] ?? NaN);
}

/** A foreign key as the database's catalog has it (on a partitioned table: the parent's). */
export interface CatalogForeignKey {
  name: string;
  child: string;
  childColumns: string[];
  parent: string;
  parentColumns: string[];
}

/** Every foreign key declared on the tables of the schemas. */
export async function catalogForeignKeys(orm: MikroORM, schemas: string[]): Promise<CatalogForeignKey[]> {
  const rows = await canonical(orm, (run) => run<{ name: string; child: string; parent: string; cc: string; pc: string }>(`
    SELECT c.conname AS name, cr.relname AS child, pr.relname AS parent,
      (SELECT array_to_json(array_agg(a.attname::text ORDER BY k.o)) FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n)::text AS cc,
      (SELECT array_to_json(array_agg(a.attname::text ORDER BY k.o)) FROM unnest(c.confkey) WITH ORDINALITY k(n, o)
         JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)::text AS pc
    FROM pg_constraint c
      JOIN pg_class cr ON cr.oid = c.conrelid JOIN pg_namespace n ON n.oid = cr.relnamespace
      JOIN pg_class pr ON pr.oid = c.confrelid
    WHERE c.contype = 'f' AND c.conparentid = 0 AND NOT cr.relispartition AND n.nspname IN (${schemas.map(literal).join(', ')})
    ORDER BY 2, 1`));
  return rows.map((row) => ({ name: row.name, child: row.child, parent: row.parent, childColumns: JSON.parse(row.cc), parentColumns: JSON.parse(row.pc) }));
}

/** The document's `[old key, new key]` pairs of an entity as a map from the old key's JSON. */
export function idMapOf(report: ImportReport, entity: string): Map<string, CellValue[]> {
  return new Map((report.idMap[entity] ?? []).map(([old, now]) => [JSON.stringify(old), now]));
}

/**
 * Checks a copy made by a `remap` import: for every copied row (found through `report.idMap`)
 * and every foreign key the database declares on its table, the copy points at the copy of
 * the row the original pointed at, or, when that row was not copied, at the very same row,
 * which is allowed only for the `shared` entities. Returns the problems found.
 */
export async function copyInconsistencies(orm: MikroORM, schemas: string[], document: GraphDocument, report: ImportReport, shared: string[]): Promise<string[]> {
  const problems: string[] = [];
  const byTable = new Map(document.entities.map((entity) => [entity.table, entity]));
  for (const fk of await catalogForeignKeys(orm, schemas)) {
    const child = byTable.get(fk.child);
    if (!child) continue;
    const parent = byTable.get(fk.parent);
    const childIds = idMapOf(report, child.name);
    const parentIds = parent ? idMapOf(report, parent.name) : new Map<string, CellValue[]>();
    const columns = child.columns.map((column) => column.name);
    const inDatabase = await rowsByKey(orm, qualifiedTable(orm, child.name), fk.childColumns, child.primaryKey);
    for (const [oldKey, row] of documentRowsByKey(document, child.name)) {
      const newKey = childIds.get(oldKey);
      if (!newKey) {
        problems.push(`${child.name} ${oldKey} was not copied`);
        continue;
      }
      const original = fk.childColumns.map((column) => row[columns.indexOf(column)]!);
      let expected = original;
      if (original.some((value) => value !== null)) {
        const parentKey = parent?.primaryKey.map((column) => original[fk.parentColumns.indexOf(column)]!);
        const copied = parentKey && parentIds.get(JSON.stringify(parentKey));
        if (copied) expected = fk.parentColumns.map((column) => copied[parent!.primaryKey.indexOf(column)]!);
        else if (!shared.includes(parent?.name ?? fk.parent)) {
          problems.push(`${child.name} ${oldKey} -> ${JSON.stringify(newKey)}: ${fk.name} ${JSON.stringify(original)} points at a ${parent?.name ?? fk.parent} row that was not copied`);
          continue;
        }
      }
      const actual = inDatabase.get(JSON.stringify(newKey));
      if (!actual) problems.push(`${child.name} ${oldKey} -> ${JSON.stringify(newKey)}: no such row in the database`);
      else if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        problems.push(`${child.name} ${oldKey} -> ${JSON.stringify(newKey)}: ${fk.name} is ${JSON.stringify(actual)}, the copy of ${JSON.stringify(original)} is ${JSON.stringify(expected)}`);
      }
    }
  }
  return problems;
}

/** The highest value of an integer column. */
export async function maxOf(orm: MikroORM, table: string, column: string): Promise<number> {
  const [row] = await canonical(orm, (run) => run<{ m: string | null }>(`SELECT max(${quote(column)})::text AS m FROM ${table}`));
  return Number(row?.m ?? 0);
}
