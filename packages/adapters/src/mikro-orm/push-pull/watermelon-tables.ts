import { OptionError } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import { EntitySync } from '../extension/entity-sync.js';
import { isIntegerType, serverKey } from './client-ids.js';

/** How one served model looks to WatermelonDB clients: its table name and its columns' names. */
export interface WatermelonTableOptions {
  /** The table name in the client's schema (default the entity's table name). */
  table?: string;
  /** Per property, the column name in the client's schema (default the property's database column). */
  columns?: Record<string, string>;
}

/** A raw value as WatermelonDB stores it. */
type RawValue = string | number | boolean | null;

/** One served model as a WatermelonDB table: the names both ways and how ids and values travel. */
export interface WatermelonTable {
  model: string;
  table: string;
  /** The property of the primary key: WatermelonDB's `id`, always a string on the client. */
  keyProperty: string;
  /** The key is a number on the server: a pushed id must be one written as text. */
  numericKey: boolean;
  /** Non-key property to client column. */
  columnOf: Map<string, string>;
  /** Client column to property, with what its value needs on the way back. */
  propertyOf: Map<string, { property: string; numericId: boolean; json: boolean }>;
  /** Properties holding a foreign key: sent as text, as WatermelonDB's relation columns are. */
  idProperties: Set<string>;
}

const JSON_TYPE = /^jsonb?\b/i;
const RESERVED = new Set(['id', '_status', '_changed']);

/**
 * The WatermelonDB tables of the served models (`models`, default every `@SyncModel`), read from
 * MikroORM's metadata once, at start-up: a name clash, an option naming an unknown model or
 * property, or a composite key (WatermelonDB ids are one string) fails here with `INVALID_OPTION`.
 */
export function watermelonTables(orm: MikroORM, models: string[] | undefined, options: Record<string, WatermelonTableOptions> = {}): Map<string, WatermelonTable> {
  const fn = 'watermelonRoutes';
  const sync = EntitySync.of(orm);
  const served = models ?? sync.syncModelNames();
  const strange = Object.keys(options).filter((name) => !served.includes(name));
  if (strange.length) throw OptionError.invalid(fn, 'tables', strange, `entity names among the served models (${served.join(', ')})`);
  const tables = new Map<string, WatermelonTable>();
  for (const model of served) {
    const node = sync.graph.node(model);
    const own = options[model] ?? {};
    if (node.primaryKeyProperties.length !== 1) throw OptionError.invalid(fn, 'models', model, 'models with a one-column primary key (a WatermelonDB id is one string)');
    const [keyProperty] = node.primaryKeyProperties as [string];
    const foreign = new Set(sync.graph.needs(model).flatMap((edge) => edge.foreignKey!.columns));
    const columnOf = new Map<string, string>();
    const propertyOf: WatermelonTable['propertyOf'] = new Map();
    const idProperties = new Set<string>();
    const unknownColumns = Object.keys(own.columns ?? {}).filter((property) => property === keyProperty || !node.columns.some((column) => column.property === property));
    if (unknownColumns.length) throw OptionError.invalid(fn, `tables.${model}.columns`, unknownColumns, `properties of ${model} other than its key (${node.columns.map((column) => column.property).filter((property) => property !== keyProperty).join(', ')})`);
    for (const column of node.columns) {
      if (column.property === keyProperty) continue;
      if (columnOf.has(column.property)) throw OptionError.invalid(fn, 'models', model, `models whose properties have one column each (${column.property} has several)`);
      const name = own.columns?.[column.property] ?? column.name;
      if (RESERVED.has(name) || propertyOf.has(name)) throw OptionError.invalid(fn, `tables.${model}.columns`, name, `distinct column names other than id, _status and _changed (${column.property} maps to ${name})`);
      columnOf.set(column.property, name);
      if (foreign.has(column.name)) idProperties.add(column.property);
      propertyOf.set(name, { property: column.property, numericId: foreign.has(column.name) && isIntegerType(column.type), json: JSON_TYPE.test(column.type) });
    }
    const table = own.table ?? node.table;
    const clash = [...tables.values()].find((other) => other.table === table);
    if (clash) throw OptionError.invalid(fn, `tables.${model}.table`, table, `a table name no other model has (${clash.model} has it)`);
    const keyColumn = node.columns.find((column) => column.property === keyProperty);
    tables.set(table, { model, table, keyProperty, numericKey: isIntegerType(keyColumn?.type), columnOf, propertyOf, idProperties });
  }
  return tables;
}

/** A document of a pull (by property) as a WatermelonDB raw record: `id` as text, client column names, raw values. */
export function toRaw(table: WatermelonTable, doc: Record<string, unknown>): Record<string, RawValue> & { id: string } {
  const raw: Record<string, RawValue> & { id: string } = { id: String(doc[table.keyProperty]) };
  for (const [property, value] of Object.entries(doc)) {
    const column = table.columnOf.get(property);
    if (column === undefined) continue;
    raw[column] = value === null || value === undefined ? null
      : table.idProperties.has(property) ? String(value)
        : typeof value === 'object' ? JSON.stringify(value) : value as RawValue;
  }
  return raw;
}

/** A WatermelonDB id as the server's key: a number for a numeric key; undefined when it cannot be one. */
export function fromRawId(table: WatermelonTable, id: string): string | number | undefined {
  return serverKey(id, table.numericKey);
}

/**
 * A pushed raw record as a document by property (`_status` and `_changed` dropped, `id` left
 * out), or the problems that keep it from being one: columns the table does not have, a value
 * that cannot be what its column holds.
 */
export function fromRaw(table: WatermelonTable, raw: Record<string, unknown>): { doc: Record<string, unknown>; problems: string[] } {
  const doc: Record<string, unknown> = {};
  const problems: string[] = [];
  const unknown: string[] = [];
  for (const [column, value] of Object.entries(raw)) {
    if (RESERVED.has(column)) continue;
    const target = table.propertyOf.get(column);
    if (!target) {
      unknown.push(column);
      continue;
    }
    if (value === null || typeof value !== 'string') doc[target.property] = value;
    else if (target.numericId) {
      if (/^-?\d{1,15}$/.test(value)) doc[target.property] = Number(value);
      else problems.push(`${column} must be the id of a row (a whole number written as text), not ${JSON.stringify(value.slice(0, 40))}`);
    } else if (target.json) {
      try {
        doc[target.property] = JSON.parse(value);
      } catch {
        problems.push(`${column} must be JSON text`);
      }
    } else doc[target.property] = value;
  }
  if (unknown.length) problems.unshift(`${unknown.join(', ')} ${unknown.length === 1 ? 'is not a column' : 'are not columns'} of table ${table.table} (${[...table.propertyOf.keys()].join(', ')})`);
  return { doc, problems };
}
