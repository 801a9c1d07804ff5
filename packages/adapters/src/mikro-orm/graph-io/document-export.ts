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
import { JsonRowLines } from './json-row-lines.js';
import type { GraphProgress, KeySet } from './key-walker.js';
import { ident, type SqlSession } from '../../internal/pg/sql-session.js';
import { joinOn, type TableGraph, type TableNode } from '../../internal/pg/table-graph.js';

/** What to write: the collected key sets, with the roots and time for the header. */
export interface DocumentExportInput {
  keySets: Iterable<KeySet>;
  roots: DocumentRoot[];
  exportedAt: string | null;
  encoding: DocumentEncoding;
  sink: TextSink;
  /** `exported` (default): the columns `@SyncModel` lets out; `all`: every column, for an archive that restores the rows as they were. */
  columns?: 'exported' | 'all';
  onProgress?: (progress: GraphProgress) => void;
}

/**
 * Streams the full rows of every key set into a document, entity by entity in dependency
 * order, each through one `COPY ... TO STDOUT` ordered by primary key: memory holds one chunk.
 */
export async function writeKeySets(session: SqlSession, tables: TableGraph, input: DocumentExportInput): Promise<GraphDocumentHeader> {
  const sets = new Map([...input.keySets].filter((set) => set.rows > 0).map((set) => [set.table.entity, set]));
  const columnsOf = (table: TableNode) => (input.columns === 'all' ? table.allColumns : table.columns);
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
        columns: columnsOf(set.table).map((column) => ({ name: column.name, type: column.type, nullable: column.nullable })),
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
    // COPY sends each column's text (cast to text where COPY would print it otherwise), and Node turns
    // the lines into JSON arrays while the database reads on: both cores work. A key set that
    // covers its whole table is no join.
    const values = columnsOf(table).map((column) => `t.${ident(column.name)}${column.copiesAsText ? '' : '::text'}`).join(', ');
    const from = set.full ? `${table.qualified} t` : `${table.qualified} t JOIN ${set.temp} k ON ${joinOn('t', table.primaryKey, 'k', table.primaryKey)}`;
    const orderBy = table.primaryKey.map((column) => `t.${ident(column.name)}${column.text ? ' COLLATE "C"' : ''}`).join(', ');
    const lines = new JsonRowLines();
    for await (const chunk of session.copyOutBytes(`COPY (SELECT ${values} FROM ${from} ORDER BY ${orderBy}) TO STDOUT`)) {
      const { text, rows } = lines.push(chunk);
      if (rows === 0) continue;
      await writer.writeRowLines(text, rows);
      written += rows;
      input.onProgress?.({ phase: 'write', entity, rows: written });
    }
    lines.end(entity);
  }
  await writer.end();
  return header;
}
