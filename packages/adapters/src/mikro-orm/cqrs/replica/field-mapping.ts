import type { ReplicaOptions } from '@entity-sync/core';

/** Incoming state as replica properties: `@Replica` `fields` rename, drop (`null`) and transform; unknown fields are left out. */
export function mapFields(state: Record<string, unknown>, replica: { options: ReplicaOptions; properties: Set<string> }): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(state)) {
    const mapping = replica.options.fields?.[field];
    if (mapping === null) continue;
    const target = typeof mapping === 'string' ? mapping : mapping?.to ?? field;
    if (!replica.properties.has(target)) continue;
    data[target] = typeof mapping === 'object' && mapping?.transform ? mapping.transform(value) : value;
  }
  return data;
}
