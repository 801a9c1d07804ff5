import {
  dependencyOrder,
  DocumentWriter,
  GRAPH_FORMAT,
  GRAPH_FORMAT_VERSION,
  type DocumentEncoding,
  type DocumentRoot,
  type GraphDocumentHeader,
  type TextSink,
} from '@entity-sync/core';
import type { GraphProgress, KeySet } from './key-walker.js';
import { ident, type SqlSession } from './sql-session.js';
import { joinOn, type TableGraph } from './table-graph.js';

let cursorCounter = 0;

/** What to write: the collected key sets, with the roots and time for the header. */
export interface DocumentExportInput {
  keySets: Iterable<KeySet>;
  roots: DocumentRoot[];
  exportedAt: string | null;
  encoding: DocumentEncoding;
  sink: TextSink;
  batchSize: number;
  onProgress?: (progress: GraphProgress) => void;
}

/**
 * Streams the full rows of every key set into a document, entity by entity in dependency
 * order, each through one server-side cursor ordered by primary key: memory holds one batch.
 */
export async function writeKeySets(session: SqlSession, tables: TableGraph, input: DocumentExportInput): Promise<GraphDocumentHeader> {
  const sets = new Map([...input.keySets].filter((set) => set.rows > 0).map((set) => [set.table.entity, set]));
  const { order } = dependencyOrder(tables.graph, sets.keys());
  const header: GraphDocumentHeader = {
    format: GRAPH_FORMAT,
    version: GRAPH_FORMAT_VERSION,
    exportedAt: input.exportedAt,
    roots: input.roots,
    entities: order.map((entity) => {
      const set = sets.get(entity)!;
      return {
        name: entity,
        table: set.table.table,
        primaryKey: set.table.primaryKey.map((column) => column.name),
        columns: set.table.columns.map((column) => ({ name: column.name, type: column.type, nullable: column.nullable })),
        rows: set.rows,
      };
    }),
  };
  const writer = new DocumentWriter(input.encoding, input.sink);
  await writer.begin(header);
  let written = 0;
  for (const entity of order) {
    const set = sets.get(entity)!;
    const table = set.table;
    await writer.startEntity(entity);
    const cursor = `es_cursor_${++cursorCounter}`;
    const select = table.columns.map((column, i) => `t.${ident(column.name)}::text AS c${i}`).join(', ');
    const orderBy = table.primaryKey.map((column) => `t.${ident(column.name)}${column.text ? ' COLLATE "C"' : ''}`).join(', ');
    await session.run(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT ${select} FROM ${table.qualified} t ` +
      `JOIN ${set.temp} k ON ${joinOn('t', table.primaryKey, 'k', table.primaryKey)} ORDER BY ${orderBy}`);
    const width = table.columns.length;
    for (;;) {
      const batch = await session.query<Record<string, string | null>>(`FETCH FORWARD ${input.batchSize} FROM ${cursor}`);
      const rows = batch.map((row) => {
        const values = new Array<string | null>(width);
        for (let i = 0; i < width; i++) values[i] = row[`c${i}`] ?? null;
        return values;
      });
      await writer.writeRows(rows);
      written += rows.length;
      input.onProgress?.({ phase: 'write', entity, rows: written });
      if (batch.length < input.batchSize) break;
    }
    await session.run(`CLOSE ${cursor}`);
  }
  await writer.end();
  return header;
}
