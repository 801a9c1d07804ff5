import { databaseErrorFacts, GraphError, type CellValue } from '@entity-sync/core';
import { assignedPrimaryKeyOf, entityNameOf } from '../extension/compat.js';
import type { EntityRef } from '../extension/entity-sync.js';
import type { KeyWalker, WalkRoot } from './key-walker.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { TableGraph, TableNode } from '../../internal/pg/table-graph.js';

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

const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
  smallint: [-(2n ** 15n), 2n ** 15n - 1n],
  integer: [-(2n ** 31n), 2n ** 31n - 1n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
};
const UUID = /^(?:[0-9a-f]{4}-?){7}[0-9a-f]{4}$/i;

/** A root as the CLI spells it: `Entity:pk`, composite keys as a JSON list. */
function rootText(entity: string, values: readonly unknown[]): string {
  return values.length === 1 ? `${entity}:${toCellValue(values[0])}` : `${entity}:${JSON.stringify(values)}`;
}

// Integer and uuid keys are checked (and written canonically, as the database prints them back)
// here; other types are left to the database's cast, whose errors `addWalkRoots` turns into INVALID_ROOT.
function keyCell(entity: string, root: string, column: CatalogColumn, value: unknown): CellValue {
  if (value === null || value === undefined) {
    throw GraphError.invalidRoot(root, `the key has no value for ${entity}.${column.name} (${column.type})`);
  }
  const text = toCellValue(value)!;
  if (column.integer) {
    const trimmed = text.trim();
    const range = INTEGER_RANGES[column.type];
    const number = /^[+-]?\d+$/.test(trimmed) ? BigInt(trimmed) : undefined;
    if (number === undefined || (range && (number < range[0] || number > range[1]))) {
      throw GraphError.invalidRoot(root, `${entity}.${column.name} is ${column.type}, and ${JSON.stringify(text)} is not ` +
        (number === undefined ? 'a whole number' : `between ${range![0]} and ${range![1]}`));
    }
    return number.toString();
  }
  if (column.uuid) {
    const bare = /^\{.*\}$/.test(text) ? text.slice(1, -1) : text;
    if (!UUID.test(bare)) {
      throw GraphError.invalidRoot(root, `${entity}.${column.name} is uuid, and ${JSON.stringify(text)} is not a uuid (like 6f1c2a52-8d1e-4b7a-9a59-1d3b7e0c4f10)`);
    }
    const hex = bare.replace(/-/g, '').toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return text;
}

const isPlainObject = (value: object) => {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

function keyOfInstance(root: object, table: TableNode): unknown[] {
  const values = assignedPrimaryKeyOf(root);
  if (!values) {
    const columns = table.primaryKey.map((column) => column.name).join(', ');
    throw GraphError.invalidRoot(`${table.entity} instance`, `it has no primary key yet (${columns} undefined): ` +
      `flush it first (await em.flush()) so that it has one, or pass { entity: ${table.entity}, key }`);
  }
  return values;
}

/** Groups roots by table with their keys as text, checking each key's arity and, for integer and uuid columns, its text. */
export function resolveRoots(roots: GraphRoots, tables: TableGraph): WalkRoot[] {
  const list = (Array.isArray(roots) ? roots : [roots]) as unknown[];
  const byTable = new Map<TableNode, CellValue[][]>();
  for (const root of list) {
    if (typeof root !== 'object' || root === null) {
      throw GraphError.invalidRoot(String(root), 'a root is an entity instance or { entity, key }');
    }
    const ref = isPlainObject(root) ? root as Partial<RootRef> : undefined;
    if (ref && ref.entity === undefined) {
      throw GraphError.invalidRoot(JSON.stringify(root), 'a plain object root needs entity and key: { entity: Author, key: 1 }');
    }
    const entity = entityNameOf(ref ? ref.entity : root.constructor);
    const table = tables.table(entity);
    if (ref && ref.key === undefined) {
      throw GraphError.invalidRoot(`{ entity: ${entity} }`, `it has no key; give ${entity}'s primary key ` +
        `(${table.primaryKey.map((c) => `${c.name}: ${c.type}`).join(', ')}) as { entity: ${entity}, key }`);
    }
    const values = ref ? (Array.isArray(ref.key) ? ref.key : [ref.key]) : keyOfInstance(root, table);
    const text = rootText(entity, values);
    if (values.length !== table.primaryKey.length) {
      throw GraphError.invalidRoot(text,
        `${entity}'s primary key has ${table.primaryKey.length} column(s) (${table.primaryKey.map((c) => c.name).join(', ')}), the root gives ${values.length}`);
    }
    const key = values.map((value, i) => keyCell(entity, text, table.primaryKey[i]!, value));
    byTable.set(table, [...(byTable.get(table) ?? []), key]);
  }
  return [...byTable].map(([table, keys]) => ({ table, keys }));
}

/**
 * Adds the roots to a walk, table by table; a key the database cannot read as its column's
 * type (class 22: a bad date, a number out of range...) fails with `INVALID_ROOT` naming it.
 */
export async function addWalkRoots(walker: KeyWalker, roots: WalkRoot[]): Promise<void> {
  for (const root of roots) {
    try {
      await walker.addRoots([root]);
    } catch (error) {
      const facts = databaseErrorFacts(error);
      if (!facts?.code.startsWith('22')) throw error;
      const { table, keys } = root;
      const types = table.primaryKey.map((column) => `${column.name} (${column.type})`).join(', ');
      const shown = keys.slice(0, 5).map((key) => rootText(table.entity, key)).join(', ');
      throw GraphError.invalidRoot(shown + (keys.length > 5 ? ` and ${keys.length - 5} more` : ''),
        `${table.entity}'s primary key is ${types}, and the database cannot read the key as that type: ${facts.message}`);
    }
  }
}
