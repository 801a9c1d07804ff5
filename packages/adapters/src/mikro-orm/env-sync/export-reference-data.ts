import { createHash } from 'node:crypto';
import { EnvSyncError, SYNC_STREAM_FORMAT, SYNC_STREAM_VERSION, type FileStorage, type SyncFileRef, type SyncStreamHeader } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { ident, SqlSession } from '../../internal/pg/sql-session.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import { linesFromTransaction } from '../../internal/pg/transaction-lines.js';
import { describePlan, NaturalKeySql, type SyncModelPlan } from './sync-model-plan.js';
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
  const joins: string[] = [];
  const own = keys.keyOf(plan.name, 't');
  joins.push(...own.joins);
  const selected = [
    ...plan.table.primaryKey.map((column, i) => `t.${ident(column.name)}::text AS p${i}`),
    ...own.expressions.map((expression, i) => `${expression} AS k${i}`),
    ...plan.columns.map((column, i) => `t.${ident(column.name)}::text AS v${i}`),
  ];
  plan.references.forEach((fk, j) => {
    const alias = `ref${j}`;
    const on = fk.columns.map((column, i) => `${alias}.${ident(fk.referenced[i]!.name)} = t.${ident(column.name)}`).join(' AND ');
    joins.push(`LEFT JOIN ${fk.parent.qualified} ${alias} ON ${on}`);
    const parent = keys.keyOf(fk.parent.entity, alias);
    joins.push(...parent.joins);
    // null when the foreign key is NULL; the key of the row pointed at otherwise
    selected.push(`CASE WHEN ${fk.columns.map((column) => `t.${ident(column.name)} IS NOT NULL`).join(' AND ')} ` +
      `THEN json_build_array(${parent.expressions.join(', ')})::text END AS r${j}`);
  });
  const pk = plan.table.primaryKey.map((column) => `t.${ident(column.name)}`);
  const where = after ? `WHERE (${pk.join(', ')}) > (${plan.table.primaryKey.map((column) => `?::${column.type}`).join(', ')})` : '';
  return `SELECT ${selected.join(', ')} FROM ${plan.table.qualified} t ${joins.join(' ')} ${where} ORDER BY ${pk.join(', ')} LIMIT ${size}`;
}

async function rowLine(plan: SyncModelPlan, row: Row, files: (ref: string) => Promise<SyncFileRef>): Promise<string> {
  const values: (string | SyncFileRef | null)[] = [];
  for (const [i, column] of plan.columns.entries()) {
    const value = row[`v${i}`] ?? null;
    values.push(value !== null && plan.fileColumns.has(column.name) ? await files(value) : value);
  }
  const key = plan.naturalKey.map((_, i) => row[`k${i}`] ?? null);
  const references = plan.references.map((_, j) => (row[`r${j}`] ? JSON.parse(row[`r${j}`]!) as string[] : null));
  return JSON.stringify({ m: plan.name, k: key, v: values, r: references });
}

async function exportModel(session: SqlSession, plan: SyncModelPlan, keys: NaturalKeySql, size: number,
  files: (ref: string) => Promise<SyncFileRef>, emit: (line: string) => Promise<void>): Promise<number> {
  let count = 0;
  let after: (string | null)[] | undefined;
  for (;;) {
    const rows = await session.query<Row>(pageQuery(plan, keys, size, after !== undefined), after ?? []);
    for (const row of rows) await emit(await rowLine(plan, row, files));
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
  const size = options.batchSize ?? 1000;
  return linesFromTransaction(em, 'repeatable read', async (tx, emit) => {
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
    const header: SyncStreamHeader = { format: SYNC_STREAM_FORMAT, version: SYNC_STREAM_VERSION, models: plans.map(describePlan), createdAt: new Date().toISOString() };
    await emit(JSON.stringify(header));
    const counts: Record<string, number> = {};
    const keys = new NaturalKeySql(sync, tables, 'nk');
    for (const plan of plans) {
      counts[plan.name] = await exportModel(session, plan, keys, size, files, emit);
      described.clear();
    }
    await emit(JSON.stringify({ end: true, counts }));
  });
}
