import {
  documentFromObject,
  EntitySyncError,
  ImportError,
  type CellValue,
  type DocumentSource,
  type GraphDocument,
  type ImportConflict,
} from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import type { Readable } from 'node:stream';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import type { GraphProgress } from './key-walker.js';
import { SqlSession } from '../../internal/pg/sql-session.js';
import { GraphImporter } from './graph-importer.js';
import { schemaDifferences } from './schema-fingerprint.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import { checkImportOptions } from './option-checks.js';
import { settled } from '../../internal/files/text-sink.js';
import { openDocument } from './open-document.js';

/** What to do with a document row that already exists in the target. */
export type ConflictPolicy = 'fail' | 'skip' | 'overwrite' | 'remap';

/** Options of `importGraph`. */
export interface ImportGraphOptions {
  /** Entity manager of the target database. */
  em: EntityManager;
  /** Do everything, report it, and roll back. */
  dryRun?: boolean;
  /**
   * `fail` (default): report every conflict and change nothing; `skip`: keep the existing rows;
   * `overwrite`: update them; `remap`: insert every row under a new key and rewrite the keys that point at it.
   */
  onConflict?: ConflictPolicy;
  /** `naturalKey`: a row whose `@SyncModel` natural key exists in the target is reused, not imported. */
  matchBy?: 'primaryKey' | 'naturalKey';
  /**
   * `fire` (default): the target's triggers run as for any insert, and values a BEFORE trigger changes
   * are reported under `rewritten`. `disable`: the written tables' enabled user triggers are switched
   * off while their rows go in and back on after (like pg_restore --disable-triggers; needs the tables'
   * owner and locks them against writes until commit), so that a restore is exact. Foreign-key checks
   * deferred until commit are run before each switch (`SET CONSTRAINTS ALL IMMEDIATE`, for the rest of
   * the transaction), since PostgreSQL alters no table with checks pending.
   */
  triggers?: 'fire' | 'disable';
  /** Rows per load statement. Default 5000. */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (progress: GraphProgress) => void;
}

/** Per-entity outcome of an import. */
export interface EntityImportCounts {
  /** Inserted under the file's key. */
  created: number;
  /** Existing rows given the file's values (`overwrite`). */
  updated: number;
  /** Existing rows left as they are: `skip`, or rows that `overwrite` found identical already. */
  skipped: number;
  /** Inserted under a new key (`remap`). */
  remapped: number;
  /** Existing rows used in their place, matched by natural key (`matchBy: 'naturalKey'`). */
  reused: number;
}

/** Values the target stored otherwise than the file has them: computed by a generated column, or changed by a BEFORE trigger. */
export interface RewrittenValues {
  entity: string;
  column: string;
  /** How many imported rows hold another value than the file's. */
  rows: number;
  /** Document keys of the first such rows (at most 5). */
  sample: CellValue[][];
  /** `generated column`, or the triggers of the table (`trigger set_last_update`). */
  by: string;
}

/** What an import did (or, in a dry run, would do). */
export interface ImportReport {
  dryRun: boolean;
  entities: Record<string, EntityImportCounts>;
  /** Every row that collided with a target row, however the policy resolved it. */
  conflicts: ImportConflict[];
  /** Rows that live under another key in the target: `[document key, target key]` pairs per entity. */
  idMap: Record<string, [CellValue[], CellValue[]][]>;
  /** Sequences moved past the highest imported id (or drawn from for remapped keys). */
  sequences: string[];
  /** Imported values the target's generated columns or triggers made differ from the file: empty when every row is as in the file. */
  rewritten: RewrittenValues[];
  rows: number;
  statements: number;
}

/** A document in memory, an opened document, a file path, or a readable stream; `importGraph` reads it once and closes it. */
export type ImportSource = GraphDocument | DocumentSource | string | Readable;

class DryRunRollback extends Error {
  constructor(readonly report: ImportReport) {
    super('dry run');
  }
}

const isStream = (source: ImportSource): source is Readable => typeof (source as Readable).pipe === 'function';

async function open(source: ImportSource, batchSize: number): Promise<DocumentSource> {
  if (typeof source === 'string' || isStream(source)) return openDocument(source, batchSize);
  if ('sections' in source && typeof source.sections === 'function') return source as DocumentSource;
  return documentFromObject(source as GraphDocument);
}

// A stream passed in is closed even when the import fails before it was opened (a bad option).
async function close(source: ImportSource, document: DocumentSource | undefined): Promise<void> {
  if (document) await document.close?.();
  else if (isStream(source) && !source.destroyed) {
    source.destroy();
    await settled(source);
  }
}

/**
 * Imports a graph document in one transaction: checks the schema fingerprint, stages the
 * rows, detects conflicts by primary and natural key, rewrites keys for `remap`, inserts in
 * dependency order (cycles through a nullable key are set after), and moves sequences past
 * the imported ids. All or nothing; a dry run rolls back and returns the same report.
 *
 * @example
 * ```ts
 * const report = await importGraph('customer-7.json', { em, onConflict: 'remap', matchBy: 'naturalKey' });
 * ```
 */
export async function importGraph(source: ImportSource, options: ImportGraphOptions): Promise<ImportReport> {
  let document: DocumentSource | undefined;
  try {
    checkImportOptions(options);
    const { em, dryRun = false, onConflict = 'fail', matchBy = 'primaryKey', triggers = 'fire', batchSize = 5000, signal, onProgress } = options;
    const sync = EntitySync.forEntityManager(em);
    const opened = await open(source, batchSize);
    document = opened;
    return await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx, signal);
      await session.useCanonicalText(defaultSchemaOf(tx));
      const tables = await TableGraph.load(session, sync.graph, defaultSchemaOf(tx), (entity) => sync.registryEntry(entity));
      const differences = schemaDifferences(opened, tables, sync);
      if (differences.length) throw ImportError.schemaMismatch(differences);
      const importer = new GraphImporter(session, tables, sync, { onConflict, matchBy, triggers, onProgress });
      await importer.stage(opened);
      const report = await importer.apply(dryRun);
      if (dryRun) throw new DryRunRollback(report);
      return report;
    });
  } catch (error) {
    if (error instanceof DryRunRollback) return error.report;
    if (error instanceof EntitySyncError) throw error;
    throw ImportError.rejected(error);
  } finally {
    await close(source, document);
  }
}
