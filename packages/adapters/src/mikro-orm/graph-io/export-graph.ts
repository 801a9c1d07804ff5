import type { GraphDocument, GraphDocumentHeader, TextSink } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { writeKeySets } from './document-export.js';
import type { ExportGraphOptions } from './export-options.js';
import { KeyWalker } from './key-walker.js';
import { checkExportOptions } from './option-checks.js';
import { addWalkRoots, resolveRoots, type GraphRoots } from './roots.js';
import { SqlSession } from '../../internal/pg/sql-session.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import { openSink } from '../../internal/files/text-sink.js';

/** What an export produced. */
export interface ExportReport {
  header: GraphDocumentHeader;
  /** Rows written, all entities together. */
  rows: number;
  /** SQL statements the export ran. */
  statements: number;
  /** The document, when no `to` was given (JSON format). */
  document?: GraphDocument;
  /** The document text, when no `to` was given. */
  text?: string;
}

/**
 * Exports the roots and everything they need and own into a versioned document.
 *
 * @example
 * ```ts
 * await exportGraph(em, customer, { to: 'customer-7.json' });
 * const { document } = await exportGraph(em, { entity: Playlist, key: 1 }, { excludeRelations: ['Track<-InvoiceLine.track'] });
 * ```
 */
export async function exportGraph(em: EntityManager, roots: GraphRoots, options: ExportGraphOptions = {}): Promise<ExportReport> {
  checkExportOptions(em, options);
  const { format = 'json', signal, onProgress } = options;
  const sync = EntitySync.forEntityManager(em);
  const chunks: string[] = [];
  const target = options.to === undefined ? undefined
    : typeof options.to === 'function' ? { sink: options.to, commit: async () => {}, abort: async () => {} }
      : await openSink(options.to);
  const sink: TextSink = target?.sink ?? ((chunk) => void chunks.push(chunk));
  const exportedAt = options.exportedAt === undefined ? new Date().toISOString() : options.exportedAt?.toISOString() ?? null;
  try {
    const { header, rows, statements } = await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx, signal);
      await session.useCanonicalText(defaultSchemaOf(tx), { indexLookups: true });
      const tables = await TableGraph.load(session, sync.graph, defaultSchemaOf(tx), (entity) => sync.registryEntry(entity));
      const walkRoots = resolveRoots(roots, tables);
      const walker = new KeyWalker(session, tables, 'export', options, onProgress);
      await addWalkRoots(walker, walkRoots);
      await walker.walk();
      const header = await writeKeySets(session, tables, {
        keySets: walker.keySets.values(),
        roots: walkRoots.flatMap((root) => root.keys.map((key) => ({ entity: root.table.entity, key }))),
        exportedAt,
        encoding: format,
        sink,
        onProgress,
      });
      return { header, rows: walker.rows, statements: session.statements };
    }, 'repeatable read');
    await target?.commit();
    if (target) return { header, rows, statements };
    const text = chunks.join('');
    return { header, rows, statements, text, document: format === 'json' ? JSON.parse(text) as GraphDocument : undefined };
  } catch (error) {
    await target?.abort();
    throw error;
  }
}
