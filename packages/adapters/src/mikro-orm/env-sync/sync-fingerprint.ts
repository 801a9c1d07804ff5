import type { SchemaDifference, SyncStreamModel } from '@entity-sync/core';
import { describePlan, type SyncModelPlan } from './sync-model-plan.js';

const list = (values: string[]) => `(${values.join(', ')})`;

/** Every difference between the models a stream's header describes and the same models in the target. */
export function fingerprintDifferences(source: SyncStreamModel, target: SyncModelPlan): SchemaDifference[] {
  const entity = source.name;
  const own = describePlan(target);
  const differences: SchemaDifference[] = [];
  if (source.naturalKey.join() !== own.naturalKey.join()) {
    differences.push({ entity, problem: `natural key is ${list(source.naturalKey)} in the source, ${list(own.naturalKey)} in the target` });
  }
  const targetColumns = new Map(own.columns.map((column) => [column.name, column]));
  for (const column of source.columns) {
    const other = targetColumns.get(column.name);
    if (!other) differences.push({ entity, column: column.name, problem: 'column does not exist in the target (or does not travel there)' });
    else if (other.type !== column.type) differences.push({ entity, column: column.name, problem: `type is ${column.type} in the source, ${other.type} in the target` });
    else if (!!other.file !== !!column.file) differences.push({ entity, column: column.name, problem: `${column.file ? 'a file field in the source, not in the target' : 'a file field in the target, not in the source'}` });
  }
  for (const column of own.columns) {
    if (!source.columns.some((candidate) => candidate.name === column.name)) differences.push({ entity, column: column.name, problem: 'column exists in the target but not in the source' });
  }
  const targetReferences = new Map(own.references.map((reference) => [reference.name, reference]));
  for (const reference of source.references) {
    const other = targetReferences.get(reference.name);
    if (!other) differences.push({ entity, column: reference.columns.join(', '), problem: `reference ${reference.name} does not exist in the target` });
    else if (other.columns.join() !== reference.columns.join() || other.model !== reference.model) {
      differences.push({ entity, column: reference.columns.join(', '), problem: `reference ${reference.name} is ${list(reference.columns)} -> ${reference.model} in the source, ${list(other.columns)} -> ${other.model} in the target` });
    }
  }
  for (const reference of own.references) {
    if (!source.references.some((candidate) => candidate.name === reference.name)) {
      differences.push({ entity, column: reference.columns.join(', '), problem: `reference ${reference.name} exists in the target but not in the source` });
    }
  }
  return differences;
}
