import { exportGraph, importGraph, type GraphRoots } from '@entity-sync/adapters/mikro-orm';
import type { EntityManager } from '@mikro-orm/core';
import { since, type Throughput } from './measure.js';

/** A measured run of the library, split where its first phase (the walk, or the load) ends. */
export interface PhasedRun extends Throughput {
  statements: number;
  /** Entities (tables) in the document; 0 for an import. */
  entities: number;
  /** Seconds of the first phase. */
  first: number;
}

/** `exportGraph` to an NDJSON file; the walk ends where the first rows are written. */
export async function timedExport(roots: GraphRoots, em: EntityManager, file: string): Promise<PhasedRun> {
  const start = performance.now();
  let walked: number | undefined;
  const result = await exportGraph(em, roots, {
    format: 'ndjson', to: file,
    onProgress: ({ phase }) => {
      if (phase === 'write' && walked === undefined) walked = since(start);
    },
  });
  const seconds = since(start);
  return { rows: result.rows, seconds, statements: result.statements, entities: result.header.entities.length, first: walked ?? seconds };
}

/** `importGraph` of a file into an empty database; the load into staging tables ends with its last batch. */
export async function timedImport(file: string, em: EntityManager): Promise<PhasedRun> {
  const start = performance.now();
  let loaded = 0;
  const report = await importGraph(em, file, {
    onProgress: ({ phase }) => {
      if (phase === 'load') loaded = since(start);
    },
  });
  const seconds = since(start);
  const created = Object.values(report.entities).reduce((sum, counts) => sum + counts.created, 0);
  if (created !== report.rows) throw new Error(`the import created ${created} of ${report.rows} rows in an empty database`);
  return { rows: report.rows, seconds, statements: report.statements, entities: 0, first: loaded };
}
