import { EntitySyncError, EnvSyncError, ImportError, SyncStreamReader, type LineInput, type ModelPullReport, type PullReport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { SqlSession } from '../../internal/pg/sql-session.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import { checkOutsideEffects, collectMissing, deleteMissing } from './delete-missing.js';
import { PulledFiles } from './pulled-files.js';
import { fingerprintDifferences } from './sync-fingerprint.js';
import { NaturalKeySql, syncModelPlan, type SyncModelPlan } from './sync-model-plan.js';
import { syncDigest } from './sync-row-sql.js';
import { selectModels } from './sync-model-selection.js';
import type { PullReferenceDataOptions } from './sync-options.js';
import { SyncStage } from './sync-stage.js';
import { insertNew, updateChanged } from './sync-writer.js';

class DryRunRollback extends Error {
  constructor(readonly report: PullReport) {
    super('dry run');
  }
}

const PROGRESS_EVERY = 2000;

const emptyReport = (model: string): ModelPullReport => ({
  model, created: 0, updated: 0, deleted: 0, unchanged: 0, filesFetched: 0, rows: { created: [], updated: [], deleted: [] }, truncated: false,
});

/**
 * Pulls an export of `exportReferenceData` into this database, all or nothing in one transaction:
 * checks the header's column fingerprint against the target (`SCHEMA_MISMATCH`, nothing written),
 * stages the rows, resolves every reference by natural key to the target's ids (rows created by
 * this pull included; self-references and cycles are set once every row is in), inserts the new
 * rows, updates only the changed ones (an unchanged row gets no UPDATE), and with `deleteMissing`
 * deletes the pulled models' rows the source lacks unless that reaches other models'
 * (`ENV_SYNC_DELETE_REFUSED`). A cut-short stream is `ENV_SYNC_STREAM_INVALID`; a reference to a row
 * in neither is `ENV_SYNC_DANGLING_REFERENCE`. Files the target storage lacks are fetched with
 * `fetchFile` and written before commit, and deleted again when the pull rolls back. A dry run
 * computes the same report and rolls back; the report lists at most `listLimit` rows per kind.
 *
 * @example
 * ```ts
 * const report = await pullReferenceData(orm.em.fork(), readline.createInterface({ input }), { deleteMissing: true, dryRun: true });
 * ```
 */
export async function pullReferenceData(em: EntityManager, lines: AsyncIterable<string>, options: PullReferenceDataOptions = {}): Promise<PullReport> {
  checkEntityManager('pullReferenceData', em, 'pullReferenceData(em, lines, { dryRun: true })');
  return pullReferenceLines(em, () => lines, options);
}

// The digests of the models the target holds rows of (`models`, default every `@SyncModel`), for the source to leave out the rows already here.
async function heldDigests(session: SqlSession, sync: EntitySync, tables: TableGraph, keys: NaturalKeySql, models: string[]): Promise<Record<string, string>> {
  const have: Record<string, string> = {};
  for (const name of models) {
    let plan: SyncModelPlan;
    try {
      plan = syncModelPlan(sync, tables, name);
    } catch (error) {
      if (error instanceof EntitySyncError) continue; // reported when the source's header names it
      throw error;
    }
    const digest = await syncDigest(session, plan, keys);
    if (digest && !digest.startsWith('0:')) have[name] = digest;
  }
  return have;
}

/**
 * `pullReferenceData` on lines opened inside the pull's transaction: with `models` (the models asked,
 * `null` for every one), `open` is given the digests of what the target holds (see
 * `ExportReferenceDataOptions.have`), and the source may send such a model without rows.
 */
export async function pullReferenceLines(em: EntityManager, open: (have: Record<string, string>) => LineInput,
  options: PullReferenceDataOptions, models?: string[] | null): Promise<PullReport> {
  const { dryRun = false, deleteMissing: deleting = false, listLimit = 100, batchSize = 5000 } = options;
  const files = new PulledFiles(options.storage, options.fetchFile, dryRun);
  try {
    return await inTransaction(em, async (tx) => {
      const sync = EntitySync.forEntityManager(tx);
      const session = await SqlSession.open(tx, options.signal);
      await session.useCanonicalText(defaultSchemaOf(tx));
      // the set-based steps join and group whole stages: in memory rather than sorted on disk (for this transaction only)
      await session.run(`SET LOCAL work_mem = '64MB'`);
      const tables = await TableGraph.load(session, sync.graph, defaultSchemaOf(tx), (entity) => sync.registryEntry(entity));
      const keys = new NaturalKeySql(sync, tables, 'nk');
      const have = models === undefined ? {} : await heldDigests(session, sync, tables, keys, models ?? sync.syncModelNames());
      const reader = new SyncStreamReader(open(have));
      const header = await reader.header();
      const source = new Map(header.models.map((model) => [model.name, model]));
      const { plans, deferred } = selectModels(sync, tables, header.models.map((model) => model.name));
      const differences = plans.flatMap((plan) => fingerprintDifferences(source.get(plan.name)!, plan));
      if (differences.length) throw EnvSyncError.schemaMismatch(differences);
      const reports = new Map(plans.map((plan) => [plan.name, emptyReport(plan.name)]));
      // a model the source sends without rows is one whose rows are all here already, unchanged
      const held = new Set(header.models.filter((model) => model.unchanged !== undefined).map((model) => model.name));
      for (const name of held) {
        if (!have[name]) throw EnvSyncError.streamInvalid(`the header says the rows of ${name} are unchanged, but the target sent no digest of them`, 1);
        reports.get(name)!.unchanged = Number(have[name]!.split(':')[0]);
      }

      const keyLength = (model: string) => sync.naturalKeyPaths(model).length;
      const stages = new Map(plans.filter((plan) => !held.has(plan.name))
        .map((plan) => [plan.name, new SyncStage(session, plan, source.get(plan.name)!, keyLength, batchSize)]));
      for (const stage of stages.values()) await stage.create();
      let received = 0;
      for (;;) {
        const row = await reader.next();
        if ('end' in row) break;
        const sending = stages.get(row.m)!.add(row, reader.line);
        if (sending) await sending;
        if (++received % PROGRESS_EVERY === 0) options.onProgress?.({ phase: 'load', entity: row.m, rows: received });
      }
      options.onProgress?.({ phase: 'load', rows: received });
      for (const stage of stages.values()) {
        await stage.finish();
        await files.resolve(session, stage, reports.get(stage.plan.name)!);
      }
      // first every new row, in dependency order, with the references that close a cycle left NULL
      for (const stage of stages.values()) {
        for (const fk of stage.plan.references) {
          if (deferred.has(fk.name)) continue;
          await stage.resolve(fk, keys);
          await stage.checkResolved(fk);
        }
        await stage.matchByNaturalKey(keys, deferred);
        await insertNew(session, stage, keys, deferred, dryRun);
      }
      // then the references left, and the updates
      for (const stage of stages.values()) {
        for (const fk of stage.plan.references) {
          if (!deferred.has(fk.name)) continue;
          await stage.resolve(fk, keys);
          await stage.checkResolved(fk);
        }
        const report = reports.get(stage.plan.name)!;
        await updateChanged(session, stage, listLimit, report);
        options.onProgress?.({ phase: 'apply', entity: stage.plan.name, rows: report.created + report.updated + report.unchanged });
      }
      if (deleting) {
        const pulledTables = new Set(plans.map((plan) => `${plan.table.schema}.${plan.table.table}`));
        for (const stage of [...stages.values()].reverse()) {
          const report = reports.get(stage.plan.name)!;
          const missing = await collectMissing(session, stage, keys, listLimit, report);
          await checkOutsideEffects(session, stage, missing, pulledTables, report.deleted);
          if (report.deleted) await deleteMissing(session, stage, missing);
        }
      }
      const report: PullReport = { dryRun, models: [...reports.values()] };
      if (dryRun) throw new DryRunRollback(report);
      return report;
    });
  } catch (error) {
    await files.discard();
    if (error instanceof DryRunRollback) return error.report;
    if (error instanceof EntitySyncError) throw error;
    throw ImportError.rejected(error);
  }
}
