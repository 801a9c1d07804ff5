import { dependencyOrder, EnvSyncError } from '@entity-sync/core';
import type { EntitySync } from '../extension/entity-sync.js';
import type { TableGraph } from '../../internal/pg/table-graph.js';
import { syncModelPlan, type SyncModelPlan } from './sync-model-plan.js';

/** The plans of `models` (default: every `@SyncModel`), in dependency order, with the foreign keys that are set after all rows are in. */
export function selectModels(sync: EntitySync, tables: TableGraph, models?: string[]): { plans: SyncModelPlan[]; deferred: Set<string> } {
  const names = models ?? sync.syncModelNames();
  if (names.length === 0) throw EnvSyncError.modelInvalid('(none)', 'no entity is a @SyncModel', 'Decorate the reference-data entities with @SyncModel({ naturalKey: [...] }).');
  for (const name of names) syncModelPlan(sync, tables, name);
  const { order, deferred } = dependencyOrder(sync.graph, names,
    { deferrable: (edge) => !!edge.foreignKey && tables.foreignKey(edge.name).deferrable });
  const plans = order.map((name) => syncModelPlan(sync, tables, name));
  const late = new Set(deferred.map((edge) => edge.name));
  for (const plan of plans) for (const fk of plan.references) if (fk.selfReference) late.add(fk.name);
  return { plans, deferred: late };
}
