import { dependencyOrder, type CellValue, type DocumentEncoding } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import type { Writable } from 'node:stream';
import { defaultSchemaOf, inTransaction } from '../compat.js';
import { EntitySync } from '../entity-sync.js';
import { writeKeySets } from './document-export.js';
import { KeyWalker, type GraphProgress, type KeySet } from './key-walker.js';
import { resolveRoots, type GraphRoots } from './roots.js';
import { ident, SqlSession } from './sql-session.js';
import { TableCatalog } from './table-catalog.js';
import { joinOn, TableGraph, type ForeignKeyEdge, type TableNode } from './table-graph.js';
import { openSink, type OpenSink } from './text-files.js';

/** Options of `deleteGraph`. */
export interface DeleteGraphOptions {
  /** Entity manager of the database to delete from. */
  em: EntityManager;
  /** Plan everything, report it, and roll back. */
  dryRun?: boolean;
  /** Write an export of exactly the deleted rows here first (a file path or a stream); `importGraph` restores it. */
  archiveTo?: string | Writable;
  /** Encoding of the archive. Default `json`. */
  archiveFormat?: DocumentEncoding;
  /** Nullable relations whose rows are kept with the key set to NULL instead of deleted (`'Customer.supportRep'`). */
  exclude?: string[];
  signal?: AbortSignal;
  onProgress?: (progress: GraphProgress) => void;
}

/** Rows that go although they also belong to rows outside the deleted graph: what a user must see before confirming. */
export interface OutsideEffect {
  entity: string;
  /** How many of its rows go. */
  rows: number;
  /** Keys of the first rows (at most 20). */
  sample: CellValue[][];
  /** The relation through which they are reached. */
  via: string;
  /** The rows outside the graph they belong to, per relation: these stay, but lose these rows. */
  outside: { relation: string; entity: string; rows: number }[];
}

/** What a delete did (or, in a dry run, would do). */
export interface DeleteReport {
  dryRun: boolean;
  /** Rows deleted per entity. */
  entities: Record<string, number>;
  /** Rows kept with a nullable foreign key set to NULL, per relation. */
  setNull: { relation: string; entity: string; rows: number }[];
  /** Deleted rows that also belong to rows outside the graph (invoice lines of other customers' invoices, playlist links...). */
  outside: OutsideEffect[];
  /** Rows written to the archive, when `archiveTo` was given (none in a dry run). */
  archived?: number;
  rows: number;
  statements: number;
}

class DryRunRollback extends Error {
  constructor(readonly report: DeleteReport) {
    super('dry run');
  }
}

/**
 * Deletes the roots, the rows they own, and every row that references a deleted row
 * (or sets the reference to NULL for nullable relations in `exclude`), in one transaction.
 * Rows the graph merely needs (shared reference data) are never deleted.
 *
 * @example
 * ```ts
 * const plan = await deleteGraph({ entity: Artist, key: 1 }, { em, dryRun: true });
 * plan.outside; // invoice lines of other customers that go with the artist's tracks
 * await deleteGraph({ entity: Artist, key: 1 }, { em, archiveTo: 'artist-1.json' });
 * ```
 */
export async function deleteGraph(roots: GraphRoots, options: DeleteGraphOptions): Promise<DeleteReport> {
  const { em, dryRun = false, signal, onProgress } = options;
  const sync = EntitySync.forEntityManager(em);
  const archive: OpenSink | undefined = options.archiveTo !== undefined && !dryRun ? openSink(options.archiveTo) : undefined;
  try {
    const report = await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx, signal);
      await session.useCanonicalText(defaultSchemaOf(tx));
      const tables = new TableGraph(sync.graph, await TableCatalog.load(session, defaultSchemaOf(tx)));
      const walkRoots = resolveRoots(roots, tables);
      const walker = new KeyWalker(session, tables, 'delete', { exclude: options.exclude }, onProgress);
      await walker.addRoots(walkRoots);
      await walker.walk();
      await walker.countSetNull();
      const sets = [...walker.keySets.values()].filter((set) => set.rows > 0);
      const outside = await outsideEffects(session, tables, sync, walker, sets);
      let archived: number | undefined;
      if (archive) {
        await writeKeySets(session, tables, {
          keySets: sets,
          roots: walkRoots.flatMap((root) => root.keys.map((key) => ({ entity: root.table.entity, key }))),
          exportedAt: new Date().toISOString(),
          encoding: options.archiveFormat ?? 'json',
          sink: archive.sink,
          onProgress,
        });
        archived = walker.rows;
      }
      for (const { fk } of walker.setNull) {
        const parent = walker.keySets.get(fk.parent.entity);
        if (!parent) continue;
        await session.run(`UPDATE ${fk.child.qualified} c SET ${fk.columns.map((column) => `${ident(column.name)} = NULL`).join(', ')} ` +
          `FROM ${parent.temp} k WHERE ${joinOn('c', fk.columns, 'k', fk.parent.primaryKey)}`);
      }
      const entities = await deleteRows(session, tables, walker.keySets, onProgress);
      const report: DeleteReport = {
        dryRun,
        entities,
        setNull: walker.setNull.map(({ fk, rows }) => ({ relation: fk.name, entity: fk.child.entity, rows })),
        outside,
        archived,
        rows: walker.rows,
        statements: session.statements,
      };
      if (dryRun) throw new DryRunRollback(report);
      return report;
    });
    await archive?.commit();
    return report;
  } catch (error) {
    await archive?.abort();
    if (error instanceof DryRunRollback) return error.report;
    throw error;
  }
}

// Children first; a cycle between deleted tables is opened by clearing its nullable key first.
async function deleteRows(session: SqlSession, tables: TableGraph, keySets: Map<string, KeySet>,
  onProgress?: (progress: GraphProgress) => void): Promise<Record<string, number>> {
  const present = [...keySets.values()].filter((set) => set.rows > 0);
  const { order, deferred } = dependencyOrder(tables.graph, present.map((set) => set.table.entity));
  for (const edge of deferred) {
    const fk = tables.foreignKey(edge.name);
    const set = keySets.get(fk.child.entity)!;
    await session.run(`UPDATE ${fk.child.qualified} t SET ${fk.columns.map((column) => `${ident(column.name)} = NULL`).join(', ')} ` +
      `FROM ${set.temp} k WHERE ${joinOn('t', fk.child.primaryKey, 'k', fk.child.primaryKey)}`);
  }
  const counts: Record<string, number> = {};
  let deleted = 0;
  for (const entity of [...order].reverse()) {
    const set = keySets.get(entity)!;
    counts[entity] = await session.run(`DELETE FROM ${set.table.qualified} t USING ${set.temp} k WHERE ${joinOn('t', set.table.primaryKey, 'k', set.table.primaryKey)}`);
    deleted += counts[entity]!;
    onProgress?.({ phase: 'delete', entity, rows: deleted });
  }
  return Object.fromEntries(order.map((entity) => [entity, counts[entity]!]));
}

// Shared reference data (a natural key, or no required foreign key of its own) is what many rows
// point at without belonging to it: losing a row that points at it surprises nobody. The other
// side of a link table is different: without a natural key it is somebody's collection.
function isReferenceData(table: TableNode, from: TableNode, tables: TableGraph, sync: EntitySync): boolean {
  if (sync.naturalKeyProperties(table.entity)) return true;
  return !from.pivot && tables.needs(table).every((fk) => fk.nullable);
}

async function outsideEffects(session: SqlSession, tables: TableGraph, sync: EntitySync,
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
