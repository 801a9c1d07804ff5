import { EntitySyncError, EnvSyncError, type SyncStreamModel } from '@entity-sync/core';
import type { EntitySync } from '../extension/entity-sync.js';
import { ident } from '../../internal/pg/sql-session.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { ForeignKeyEdge, TableGraph, TableNode } from '../../internal/pg/table-graph.js';

/** A model as environment sync moves it: what travels, and how its natural key is read in SQL. */
export interface SyncModelPlan {
  name: string;
  table: TableNode;
  naturalKey: string[];
  /** The columns that travel as values (no surrogate id, no foreign key, nothing excluded or generated). */
  columns: CatalogColumn[];
  /** Names of the `fileFields` columns among `columns`. */
  fileColumns: Set<string>;
  /** Foreign keys that travel as the natural key of the row they point at. */
  references: ForeignKeyEdge[];
}

function naturalKeyOf(sync: EntitySync, model: string, referencedBy?: string): string[] {
  try {
    return sync.naturalKeyPaths(model);
  } catch (error) {
    if (error instanceof EntitySyncError && error.code === 'NATURAL_KEY_UNDEFINED') throw EnvSyncError.noNaturalKey(model, referencedBy);
    throw error;
  }
}

/** The plan of one model; `ENV_SYNC_MODEL_INVALID` for a model that is no `@SyncModel`, has no natural key or refers to one without. */
export function syncModelPlan(sync: EntitySync, tables: TableGraph, model: string): SyncModelPlan {
  const entry = sync.registryEntry(model);
  if (!entry?.syncModel || !sync.graph.nodes.has(model)) throw EnvSyncError.unknownModel(model, sync.syncModelNames());
  const naturalKey = naturalKeyOf(sync, model);
  const table = tables.keyedTable(model);
  const node = sync.graph.node(model);
  const keyProperties = new Set(naturalKey.map((path) => path.split('.')[0]!));
  const references = tables.needs(table).filter((fk) => fk.columns.every((column) => table.columns.includes(column)));
  for (const fk of references) naturalKeyOf(sync, fk.parent.entity, fk.name);
  const referenceColumns = new Set(tables.needs(table).flatMap((fk) => fk.columns.map((column) => column.name)));
  const propertyOf = new Map(node.columns.map((column) => [column.name, column.property.split('.')[0]!]));
  const columns = table.columns.filter((column) => !column.generated && !referenceColumns.has(column.name) &&
    (!table.primaryKey.includes(column) || keyProperties.has(propertyOf.get(column.name) ?? '')));
  const files = new Set(entry.syncModel.fileFields ?? []);
  const fileColumns = new Set(columns.filter((column) => files.has(propertyOf.get(column.name) ?? '')).map((column) => column.name));
  return { name: model, table, naturalKey, columns, fileColumns, references };
}

/** The header's description of a plan: the fingerprint the other side compares. */
export function describePlan(plan: SyncModelPlan): SyncStreamModel {
  return {
    name: plan.name,
    naturalKey: plan.naturalKey,
    columns: plan.columns.map((column) => ({ name: column.name, type: column.type, ...(plan.fileColumns.has(column.name) ? { file: true } : {}) })),
    references: plan.references.map((fk) => ({ name: fk.name, columns: fk.columns.map((column) => column.name), model: fk.parent.entity })),
  };
}

/**
 * A position of a natural key read from the model's own table: a column of it, or a reference
 * whose columns stand for the `width` key values from `key` on (the natural key of the row it points at).
 */
export type OwnKeyPart = { key: number; column: CatalogColumn } | { key: number; reference: ForeignKeyEdge; width: number };

/**
 * SQL that reads natural keys: `expressions` are the text of each key path of the row at
 * `alias`, `joins` the LEFT JOINs they need (dotted paths go through the foreign keys).
 */
export class NaturalKeySql {
  private counter = 0;

  constructor(private readonly sync: EntitySync, private readonly tables: TableGraph, private readonly prefix: string) {}

  keyOf(model: string, alias: string): { joins: string[]; expressions: string[] } {
    const joins: string[] = [];
    const aliases = new Map<string, string>();
    const expressions = naturalKeyOf(this.sync, model).map((path) => {
      const segments = path.split('.');
      let entity = model;
      let at = alias;
      for (const [i, segment] of segments.slice(0, -1).entries()) {
        const fk = this.tables.needs(this.tables.table(entity)).find((edge) => edge.name === `${entity}.${segment}`);
        if (!fk) throw new Error(`natural key path ${path} of ${model}: ${segment} is no foreign key of ${entity}`);
        const prefix = segments.slice(0, i + 1).join('.');
        let next = aliases.get(prefix);
        if (!next) {
          next = `${this.prefix}${++this.counter}`;
          aliases.set(prefix, next);
          const on = fk.columns.map((column, j) => `${next}.${ident(fk.referenced[j]!.name)} = ${at}.${ident(column.name)}`).join(' AND ');
          joins.push(`LEFT JOIN ${fk.parent.qualified} ${next} ON ${on}`);
        }
        entity = fk.parent.entity;
        at = next;
      }
      const property = segments.at(-1)!;
      const column = this.sync.graph.node(entity).columns.find((candidate) => candidate.property === property);
      if (!column) throw new Error(`natural key path ${path} of ${model}: ${entity} has no column for ${property}`);
      return `${at}.${ident(column.name)}::text`;
    });
    return { joins, expressions };
  }

  /**
   * The natural key of a plan as its table's own columns, when every key path is a column of the
   * table or runs through a reference (none of `deferred`) to the whole natural key of the row it
   * points at, in order: `['language.country.code', 'language.code', 'key']` is `language_id` and
   * `key`, which the table's unique index finds without joining the parents. Undefined otherwise.
   */
  ownKey(plan: SyncModelPlan, deferred: Set<string>): OwnKeyPart[] | undefined {
    const node = this.sync.graph.node(plan.name);
    const parts: OwnKeyPart[] = [];
    for (let i = 0; i < plan.naturalKey.length;) {
      const [segment, ...rest] = plan.naturalKey[i]!.split('.');
      if (!rest.length) {
        const name = node.columns.find((candidate) => candidate.property === segment)?.name;
        const column = plan.table.columns.find((candidate) => candidate.name === name);
        if (!column) return undefined;
        parts.push({ key: i++, column });
        continue;
      }
      const reference = plan.references.find((fk) => fk.name === `${plan.name}.${segment}`);
      if (!reference || deferred.has(reference.name) || parts.some((part) => 'reference' in part && part.reference === reference)) return undefined;
      const parentKey = naturalKeyOf(this.sync, reference.parent.entity);
      if (parentKey.some((path, n) => plan.naturalKey[i + n] !== `${segment}.${path}`)) return undefined;
      parts.push({ key: i, reference, width: parentKey.length });
      i += parentKey.length;
    }
    return parts;
  }

  /** `SELECT <columns> AS p<i>, <key> AS k<i> FROM <table>`: a model's rows with their natural keys. */
  keyView(model: string, columns: CatalogColumn[]): string {
    const table = this.tables.table(model);
    const alias = `${this.prefix}${++this.counter}`;
    const { joins, expressions } = this.keyOf(model, alias);
    const selected = [...columns.map((column, i) => `${alias}.${ident(column.name)}::text AS p${i}`), ...expressions.map((e, i) => `${e} AS k${i}`)];
    return `SELECT ${selected.join(', ')} FROM ${table.qualified} ${alias} ${joins.join(' ')}`;
  }
}
