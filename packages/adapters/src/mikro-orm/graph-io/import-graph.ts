import {
  documentFromObject,
  EntitySyncError,
  ImportError,
  type DocumentSource,
  type GraphDocument,
} from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import type { Readable } from 'node:stream';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { SqlSession } from '../../internal/pg/sql-session.js';
import { GraphImporter } from './graph-importer.js';
import { schemaDifferences } from './schema-fingerprint.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import type { ImportGraphOptions } from './import-options.js';
import type { ImportReport } from './import-report.js';
import { checkImportOptions } from './option-checks.js';
import { settled } from '../../internal/files/text-sink.js';
import { openDocument } from './open-document.js';

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
 * const report = await importGraph(em, 'customer-7.json', { onConflict: 'remap', matchBy: 'naturalKey' });
 * ```
 */
export async function importGraph(em: EntityManager, source: ImportSource, options: ImportGraphOptions = {}): Promise<ImportReport> {
  let document: DocumentSource | undefined;
  try {
    checkImportOptions(em, options);
    const { dryRun = false, onConflict = 'fail', matchBy = 'primaryKey', triggers = 'fire', batchSize = 5000, signal, onProgress } = options;
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
