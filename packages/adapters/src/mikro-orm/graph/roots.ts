import { GraphError, type CellValue } from '@entity-sync/core';
import { entityNameOf, primaryKeyValuesOf } from '../compat.js';
import type { EntityRef } from '../entity-sync.js';
import type { TableGraph, TableNode } from './table-graph.js';
import type { WalkRoot } from './key-walker.js';

/** A root given by entity and primary key: one value, or one per column of a composite key. */
export interface RootRef {
  entity: EntityRef;
  key: unknown;
}

/** What graph operations accept as roots: managed entity instances, `{ entity, key }` pairs, or a mix. */
export type GraphRoots = object | RootRef | readonly (object | RootRef)[];

/** A key value in the text form the database reads back exactly. */
export function toCellValue(value: unknown): CellValue {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function isRootRef(value: object): value is RootRef {
  return 'entity' in value && 'key' in value && Object.keys(value).length === 2;
}

/** Groups roots by table with their keys as text, checking each key's arity. */
export function resolveRoots(roots: GraphRoots, tables: TableGraph): WalkRoot[] {
  const list = (Array.isArray(roots) ? roots : [roots]) as object[];
  const byTable = new Map<TableNode, CellValue[][]>();
  for (const root of list) {
    const [entity, values] = isRootRef(root)
      ? [entityNameOf(root.entity), Array.isArray(root.key) ? root.key : [root.key]]
      : [entityNameOf(root.constructor), primaryKeyValuesOf(root)];
    const table = tables.table(entity);
    if (values.length !== table.primaryKey.length) {
      throw GraphError.invalidRoot(`${entity}:${JSON.stringify(values)}`,
        `${entity}'s primary key has ${table.primaryKey.length} column(s) (${table.primaryKey.map((c) => c.name).join(', ')}), the root gives ${values.length}`);
    }
    byTable.set(table, [...(byTable.get(table) ?? []), values.map(toCellValue)]);
  }
  return [...byTable].map(([table, keys]) => ({ table, keys }));
}
