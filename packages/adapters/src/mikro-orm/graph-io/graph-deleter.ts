import { dependencyOrder, SchemaError, type CellValue } from '@entity-sync/core';
import type { EntitySync } from '../extension/entity-sync.js';
import { isForeignKeyViolation } from '../../internal/pg/database-errors.js';
import type { OutsideEffect } from './delete-report.js';
import type { GraphProgress, KeySet, KeyWalker } from './key-walker.js';
import { ident, type SqlSession } from '../../internal/pg/sql-session.js';
import { joinOn, type ForeignKeyEdge, type TableGraph, type TableNode } from '../../internal/pg/table-graph.js';

// Children first. The tables of a cycle go in one statement: PostgreSQL checks non-deferrable keys at
// the end of each statement, so no key is set to NULL first (which NOT NULL keys refuse, and which
// would fire UPDATE triggers on rows about to go).
export async function deleteRows(session: SqlSession, tables: TableGraph, keySets: Map<string, KeySet>,
  onProgress?: (progress: GraphProgress) => void): Promise<Record<string, number>> {
  const present = [...keySets.values()].filter((set) => set.rows > 0);
  const { order, cycles } = dependencyOrder(tables.graph, present.map((set) => set.table.entity));
  const cycleOf = new Map(cycles.flatMap((cycle) => cycle.map((entity) => [entity, cycle] as const)));
  const statement = (set: KeySet) => `DELETE FROM ${set.table.qualified} t USING ${set.temp} k WHERE ${joinOn('t', set.table.primaryKey, 'k', set.table.primaryKey)}`;
  const counts: Record<string, number> = {};
  let deleted = 0;
  for (const entity of [...order].reverse()) {
    if (counts[entity] !== undefined) continue;
    const group = cycleOf.get(entity);
    if (!group) {
      counts[entity] = await session.run(statement(keySets.get(entity)!));
    } else {
      const sets = group.map((name) => keySets.get(name)!);
      await session.run('SAVEPOINT es_delete_cycle');
      try {
        const [row] = await session.query<Record<string, number>>(`WITH ${sets.map((set, i) => `d${i} AS (${statement(set)} RETURNING 1)`).join(', ')} ` +
          `SELECT ${sets.map((_, i) => `(SELECT count(*) FROM d${i})::int AS n${i}`).join(', ')}`);
        sets.forEach((set, i) => void (counts[set.table.entity] = Number(row?.[`n${i}`] ?? 0)));
        await session.run('RELEASE SAVEPOINT es_delete_cycle');
      } catch (error) {
        await session.run('ROLLBACK TO SAVEPOINT es_delete_cycle');
        if (isForeignKeyViolation(error)) throw SchemaError.cycleUnbreakable(group, error);
        throw error;
      }
    }
    deleted += group ? group.reduce((sum, name) => sum + counts[name]!, 0) : counts[entity]!;
    onProgress?.({ phase: 'delete', entity, rows: deleted });
  }
  return Object.fromEntries(order.map((entity) => [entity, counts[entity]!]));
}

// Shared reference data (declared so, a natural key, or no required foreign key of its own) is what
// many rows point at without belonging to it: losing a row that points at it surprises nobody. The
// other side of a link table is different: without a natural key it is somebody's collection.
// `@SyncModel({ referenceData })` decides either way when it is set.
function isReferenceData(table: TableNode, from: TableNode, tables: TableGraph, sync: EntitySync): boolean {
  const declared = sync.isReferenceData(table.entity);
  if (declared !== undefined) return declared;
  if (sync.naturalKeyProperties(table.entity)) return true;
  return !from.pivot && tables.needs(table).every((fk) => fk.nullable);
}

/** Rows that go although they also belong to rows outside the graph. */
export async function outsideEffects(session: SqlSession, tables: TableGraph, sync: EntitySync,
  walker: KeyWalker, sets: KeySet[]): Promise<OutsideEffect[]> {
  const keySets = walker.keySets;
  const effects: OutsideEffect[] = [];
  for (const set of sets) {
    const table = set.table;
    const keys = tables.needs(table).filter((fk) => !isReferenceData(fk.parent, table, tables, sync));
    const outsideOf = (fk: ForeignKeyEdge) => {
      const parent = keySets.get(fk.parent.entity);
      const notNull = fk.columns.map((column) => `e.${ident(column.name)} IS NOT NULL`).join(' AND ');
      return parent
        ? `(${notNull} AND NOT EXISTS (SELECT 1 FROM ${parent.temp} p WHERE ${joinOn('p', fk.parent.primaryKey, 'e', fk.columns)}))`
        : `(${notNull})`;
    };
    const relevant = keys.filter((fk) => fk.referencesPrimaryKey);
    if (!relevant.length) continue;
    const from = `FROM ${table.qualified} e JOIN ${set.temp} k ON ${joinOn('e', table.primaryKey, 'k', table.primaryKey)} WHERE k._depth > 0`;
    const [summary] = await session.query<Record<string, unknown>>(
      `SELECT count(*)::int AS rows, mode() WITHIN GROUP (ORDER BY k._via) AS via, ` +
      `${relevant.map((fk, i) => `count(DISTINCT (${fk.columns.map((c) => `e.${ident(c.name)}`).join(', ')})) FILTER (WHERE ${outsideOf(fk)})::int AS p${i}`).join(', ')} ` +
      `${from} AND (${relevant.map(outsideOf).join(' OR ')})`);
    const rows = Number(summary?.rows ?? 0);
    if (rows === 0) continue;
    const sample = await session.query<Record<string, CellValue>>(
      `SELECT ${table.primaryKey.map((column, j) => `e.${ident(column.name)}::text AS k${j}`).join(', ')} ${from} ` +
      `AND (${relevant.map(outsideOf).join(' OR ')}) ORDER BY ${table.primaryKey.map((column) => `e.${ident(column.name)}`).join(', ')} LIMIT 20`);
    effects.push({
      entity: table.entity,
      rows,
      sample: sample.map((row) => table.primaryKey.map((_, j) => row[`k${j}`] ?? null)),
      via: walker.relationName(Number(summary!.via)),
      outside: relevant
        .map((fk, i) => ({ relation: fk.name, entity: fk.parent.entity, rows: Number(summary![`p${i}`] ?? 0) }))
        .filter((entry) => entry.rows > 0),
    });
  }
  return effects;
}
