import type { MikroORM } from '@mikro-orm/core';
import { EntitySync } from '../extension/entity-sync.js';

/** One model the sync API serves, as an operator checks it before turning the API on. */
export interface ServedModelDescription {
  model: string;
  table: string;
  /** Served because it is marked `@SyncModel`, or because a discovery rule includes it. */
  source: 'decorator' | 'discovery';
  key: string[];
  /** The property naming a row's tenant; none for a model every tenant shares. */
  tenant?: string;
  audited: boolean;
  /** The properties a client sees and may push. */
  fields: string[];
  /** The properties it never sees: left out by `@SyncModel` include / exclude, or by the discovery rules' `dropFields`. */
  withheld: { property: string; by: 'options' | 'dropFields' }[];
}

/**
 * What the sync API serves on this ORM: every `@SyncModel` and discovered model with its table,
 * key, tenant, the fields it exposes and those it withholds and why. What `entity-sync api models` prints.
 *
 * @example
 * ```ts
 * for (const model of servedModelList(orm)) console.log(model.model, model.fields.join(', '));
 * ```
 */
export function servedModelList(orm: MikroORM): ServedModelDescription[] {
  const sync = EntitySync.of(orm);
  return sync.syncModelNames().sort().map((name) => {
    const node = sync.graph.node(name);
    const entry = sync.registryEntry(name)!;
    const options = entry.syncModel!;
    const properties = [...new Set(node.columns.map((column) => column.property))];
    const dropped = new Set(entry.discovery?.dropped ?? []);
    const kept = (property: string) => node.primaryKeyProperties.includes(property) ||
      (options.include ? options.include.includes(property) : !(options.exclude ?? []).includes(property));
    return {
      model: name, table: node.schema ? `${node.schema}.${node.table}` : node.table, source: entry.discovery?.discovered ? 'discovery' : 'decorator',
      key: node.primaryKeyProperties, ...(options.tenant ? { tenant: options.tenant } : {}), audited: !!options.audit,
      fields: properties.filter(kept),
      withheld: properties.filter((property) => !kept(property)).map((property) => ({ property, by: dropped.has(property) ? 'dropFields' : 'options' })),
    };
  });
}
