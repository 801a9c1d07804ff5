import { createHash } from 'node:crypto';
import { EnvSyncError, SYNC_STREAM_FORMAT, SYNC_STREAM_VERSION, type FileStorage, type SyncFileRef, type SyncStreamHeader } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { SqlSession } from '../../internal/pg/sql-session.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import { batchesFromTransaction, flattenBatches, type EmitLines } from '../../internal/pg/transaction-lines.js';
import { describePlan, NaturalKeySql, type SyncModelPlan } from './sync-model-plan.js';
import { syncDigest, travellingRow } from './sync-row-sql.js';
import { selectModels } from './sync-model-selection.js';
import type { ExportReferenceDataOptions } from './sync-options.js';

type Row = Record<string, string | null>;

/** The sha256 and size of a stored file, read as a stream. */
async function describeFile(storage: FileStorage, ref: string): Promise<SyncFileRef> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of await storage.read(ref)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { ref, sha256: hash.digest('hex'), size };
}

// One page of a model's rows after `after` (its primary key as text), in primary-key order.
function pageQuery(plan: SyncModelPlan, keys: NaturalKeySql, size: number, after: boolean): string {
  const row = travellingRow(plan, keys);
  const selected = [
    ...row.primaryKey.map((column, i) => `${column}::text AS p${i}`),
    ...row.key.map((expression, i) => `${expression} AS k${i}`),
    ...row.values.map((expression, i) => `${expression} AS v${i}`),
    ...row.references.map((expression, j) => `${expression} AS r${j}`),
  ];
  const where = after ? `WHERE (${row.primaryKey.join(', ')}) > (${plan.table.primaryKey.map((column) => `?::${column.type}`).join(', ')})` : '';
  return `SELECT ${selected.join(', ')} FROM ${plan.table.qualified} t ${row.joins.join(' ')} ${where} ORDER BY ${row.primaryKey.join(', ')} LIMIT ${size}`;
}

function rowLine(plan: SyncModelPlan, row: Row, values: (string | SyncFileRef | null)[]): string {
  const key = plan.naturalKey.map((_, i) => row[`k${i}`] ?? null);
  const references = plan.references.map((_, j) => (row[`r${j}`] ? JSON.parse(row[`r${j}`]!) as string[] : null));
  return JSON.stringify({ m: plan.name, k: key, v: values, r: references });
}

// The values of a row as they travel: a file field's reference described by `files`.
async function valuesWithFiles(plan: SyncModelPlan, row: Row, files: (ref: string) => Promise<SyncFileRef>): Promise<(string | SyncFileRef | null)[]> {
  const values: (string | SyncFileRef | null)[] = [];
  for (const [i, column] of plan.columns.entries()) {
    const value = row[`v${i}`] ?? null;
    values.push(value !== null && plan.fileColumns.has(column.name) ? await files(value) : value);
  }
  return values;
}

async function exportModel(session: SqlSession, plan: SyncModelPlan, keys: NaturalKeySql, size: number,
  files: (ref: string) => Promise<SyncFileRef>, emit: EmitLines): Promise<number> {
  let count = 0;
  let after: (string | null)[] | undefined;
  const valueNames = plan.columns.map((_, i) => `v${i}`);
  for (;;) {
    const rows = await session.query<Row>(pageQuery(plan, keys, size, after !== undefined), after ?? []);
    // a page travels as one batch of lines
    const lines: string[] = [];
    for (const row of rows) {
      const values = plan.fileColumns.size ? await valuesWithFiles(plan, row, files) : valueNames.map((name) => row[name] ?? null);
      lines.push(rowLine(plan, row, values));
    }
    if (lines.length) await emit(lines);
    count += rows.length;
    if (rows.length < size) return count;
    after = plan.table.primaryKey.map((_, i) => rows.at(-1)![`p${i}`] ?? null);
  }
}

/**
 * Streams the reference data of the `@SyncModel` entities (all, or `options.models`) as NDJSON lines
 * (format in `SYNC_STREAM_FORMAT`'s doc), from one repeatable-read snapshot, page by page: a header
 * with the models and the fingerprint of their columns, the rows in dependency order with every
 * foreign key written as the natural key of the row it points at and every file field as its
 * reference and sha256, and an end line with the counts. No surrogate id travels, nor any column
 * `@SyncModel` include / exclude keeps back. A model without a natural key is refused
 * (`ENV_SYNC_MODEL_INVALID`). Lines carry no newline.
 *
 * @example
 * ```ts
 * for await (const line of exportReferenceData(orm.em.fork(), { models: ['Country', 'Language'] })) res.write(`${line}\n`);
 * ```
 */
export function exportReferenceData(em: EntityManager, options: ExportReferenceDataOptions = {}): AsyncIterable<string> {
  checkEntityManager('exportReferenceData', em, "exportReferenceData(em, { models: ['Country'] })");
  return flattenBatches(exportReferenceBatches(em, options));
}

/** `exportReferenceData`'s lines in batches (a page of rows each), for a server to send a batch at once. */
export function exportReferenceBatches(em: EntityManager, options: ExportReferenceDataOptions = {}): AsyncIterable<string[]> {
  const size = options.batchSize ?? 5000;
  return batchesFromTransaction(em, 'repeatable read', async (tx, emit) => {
    const sync = EntitySync.forEntityManager(tx);
    const session = await SqlSession.open(tx, options.signal);
    await session.useCanonicalText(defaultSchemaOf(tx));
    const tables = await TableGraph.load(session, sync.graph, defaultSchemaOf(tx), (entity) => sync.registryEntry(entity));
    const { plans } = selectModels(sync, tables, options.models);
    const withFiles = plans.find((plan) => plan.fileColumns.size > 0);
    if (withFiles && !options.storage) {
      throw EnvSyncError.modelInvalid(withFiles.name, 'it has file fields and no storage was given', 'Pass the FileStorage its files are in as `storage`.');
    }
    const described = new Map<string, SyncFileRef>();
    const files = async (ref: string) => {
      let file = described.get(ref);
      if (!file) described.set(ref, file = await describeFile(options.storage!, ref));
      return file;
    };
    const keys = new NaturalKeySql(sync, tables, 'nk');
    // the models whose rows the client already holds, all of them the same: sent without rows
    const held = new Set<string>();
    for (const plan of plans) {
      const digest = options.have?.[plan.name];
      if (digest && digest === await syncDigest(session, plan, keys)) held.add(plan.name);
    }
    const models = plans.map((plan) => ({ ...describePlan(plan), ...(held.has(plan.name) ? { unchanged: Number(options.have![plan.name]!.split(':')[0]) } : {}) }));
    const header: SyncStreamHeader = { format: SYNC_STREAM_FORMAT, version: SYNC_STREAM_VERSION, models, createdAt: new Date().toISOString() };
    await emit(JSON.stringify(header));
    const counts: Record<string, number> = {};
    for (const plan of plans) {
      if (held.has(plan.name)) continue;
      counts[plan.name] = await exportModel(session, plan, keys, size, files, emit);
      described.clear();
    }
    await emit(JSON.stringify({ end: true, counts }));
  });
}
