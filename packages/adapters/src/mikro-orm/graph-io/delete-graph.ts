import type { EntityManager } from '@mikro-orm/core';
import { databaseErrorFacts, GraphError, type DatabaseErrorFacts } from '@entity-sync/core';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { writeKeySets } from './document-export.js';
import { deleteRows, outsideEffects } from './graph-deleter.js';
import { KeyWalker } from './key-walker.js';
import type { DeleteGraphOptions } from './delete-options.js';
import type { DeleteReport } from './delete-report.js';
import { checkDeleteOptions } from './option-checks.js';
import { addWalkRoots, resolveRoots, type GraphRoots } from './roots.js';
import { ident, SqlSession } from '../../internal/pg/sql-session.js';
import { joinOn, TableGraph } from '../../internal/pg/table-graph.js';
import { openSink, type OpenSink } from '../../internal/files/text-sink.js';

class DryRunRollback extends Error {
  constructor(readonly report: DeleteReport) {
    super('dry run');
  }
}

/** What a caller can change when the database refuses a delete, by SQLSTATE. */
function deleteAdvice(facts: DatabaseErrorFacts, tables: TableGraph | undefined): string {
  const table = facts.table ?? 'a table of the graph';
  const entity = tables && [...tables.tables.values()].find((node) => node.table === facts.table)?.entity;
  if (facts.code === '23503') {
    return entity
      ? `${entity} rows still reference the deleted rows through ${facts.constraint ?? 'a foreign key'}, which the ORM does not map as a relation, ` +
        'so the delete does not follow it: map it as a relation (the delete then removes those rows, or keeps them with excludeRelations when it is nullable), or delete those rows first.'
      : `Table ${table} is not an entity of this ORM, so the delete cannot follow its foreign key ${facts.constraint ?? ''}: ` +
        'map it as an entity, delete its rows first, or give the key ON DELETE CASCADE or SET NULL.';
  }
  if (facts.code === '23502') {
    return `${entity ?? table}.${facts.column ?? 'its key'} cannot be NULL, so its rows cannot be kept with the key cleared: ` +
      'remove that relation from excludeRelations (its rows are then deleted too).';
  }
  if (facts.code.startsWith('23')) return `The constraint ${facts.constraint ?? ''} on ${table} refused it: delete what it protects first, or change the constraint.`;
  if (facts.code.startsWith('P0')) {
    return `A trigger or rule refused it${facts.where ? ` (${facts.where})` : ''}: change the trigger, or delete these rows the way it allows.`;
  }
  if (facts.code === '42501') return `The database user may not change ${table}: grant it DELETE (and UPDATE, for excluded relations).`;
  if (facts.code.startsWith('40')) return 'Another transaction changed the same rows at the same time: run the delete again.';
  if (facts.code === '57014') return 'The statement was cancelled (statement_timeout or a cancel request): raise the timeout, or delete a smaller graph.';
  return '';
}

/**
 * Deletes the roots, the rows they own, and every row that references a deleted row
 * (or sets the reference to NULL for nullable relations in `excludeRelations`), in one transaction.
 * Rows the graph merely needs (shared reference data) are never deleted.
 *
 * @example
 * ```ts
 * const plan = await deleteGraph(em, { entity: Artist, key: 1 }, { dryRun: true });
 * plan.outside; // invoice lines of other customers that go with the artist's tracks
 * await deleteGraph(em, { entity: Artist, key: 1 }, { archiveTo: 'artist-1.json' });
 * ```
 */
export async function deleteGraph(em: EntityManager, roots: GraphRoots, options: DeleteGraphOptions = {}): Promise<DeleteReport> {
  checkDeleteOptions(em, options);
  const { dryRun = false, signal, onProgress } = options;
  const sync = EntitySync.forEntityManager(em);
  const archive: OpenSink | undefined = options.archiveTo !== undefined && !dryRun ? await openSink(options.archiveTo) : undefined;
  let graph: TableGraph | undefined;
  try {
    const report = await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx, signal);
      await session.useCanonicalText(defaultSchemaOf(tx));
      const tables = await TableGraph.load(session, sync.graph, defaultSchemaOf(tx), (entity) => sync.registryEntry(entity));
      graph = tables;
      const walkRoots = resolveRoots(roots, tables);
      const walker = new KeyWalker(session, tables, 'delete', { excludeRelations: options.excludeRelations }, onProgress);
      await addWalkRoots(walker, walkRoots);
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
          columns: 'all',
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
    // a deferred constraint fails at commit, outside the transaction's callback: caught here too
    const facts = databaseErrorFacts(error);
    if (facts) throw GraphError.deleteRejected(error, deleteAdvice(facts, graph));
    throw error;
  }
}
