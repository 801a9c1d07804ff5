import type { DocumentSource, SchemaDifference } from '@entity-sync/core';
import type { EntitySync } from '../extension/entity-sync.js';
import type { TableGraph } from '../../internal/pg/table-graph.js';

/** Every difference between a document's schema fingerprint and the target's tables. */
export function schemaDifferences(document: DocumentSource, tables: TableGraph, sync: EntitySync): SchemaDifference[] {
  const differences: SchemaDifference[] = [];
  for (const entity of document.header.entities) {
    const node = sync.graph.nodes.get(entity.name);
    if (!node || node.inheritance) {
      differences.push({ entity: entity.name, problem: 'no such entity in the target ORM' });
      continue;
    }
    const table = tables.table(entity.name);
    if (table.table !== entity.table) {
      differences.push({ entity: entity.name, problem: `table is '${entity.table}' in the document, '${table.table}' in the target` });
    }
    const target = new Map(table.allColumns.map((column) => [column.name, column]));
    for (const column of entity.columns) {
      const other = target.get(column.name);
      if (!other) differences.push({ entity: entity.name, column: column.name, problem: 'column does not exist in the target' });
      else if (other.type !== column.type) differences.push({ entity: entity.name, column: column.name, problem: `type is ${column.type} in the document, ${other.type} in the target` });
      else if (other.nullable !== column.nullable) differences.push({ entity: entity.name, column: column.name, problem: `${column.nullable ? 'nullable' : 'not null'} in the document, ${other.nullable ? 'nullable' : 'not null'} in the target` });
    }
    // Columns that @SyncModel keeps back travel in no document: the target's default fills them in.
    for (const column of table.allColumns) {
      if (entity.columns.some((candidate) => candidate.name === column.name)) continue;
      if (!table.excluded.has(column.name)) {
        differences.push({ entity: entity.name, column: column.name, problem: 'column exists in the target but not in the document' });
      } else if (!column.nullable && !column.hasDefault && !column.generated) {
        differences.push({ entity: entity.name, column: column.name,
          problem: '@SyncModel keeps it out of documents, and the target has it NOT NULL without a default: give it a default, or stop excluding it' });
      }
    }
    if (entity.primaryKey.join() !== table.primaryKey.map((column) => column.name).join()) {
      differences.push({ entity: entity.name, problem: `primary key is (${entity.primaryKey.join(', ')}) in the document, (${table.primaryKey.map((c) => c.name).join(', ')}) in the target` });
    }
  }
  return differences;
}

