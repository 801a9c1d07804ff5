export { EntitySync, type EntitySyncOptions, type EntityRef, type LookupOptions } from './extension/entity-sync.js';
export { buildRelationGraph } from './extension/graph-builder.js';
export type { RegistryWarning } from './extension/registry-validator.js';
export type { ResolvedNaturalKey } from './extension/natural-key-paths.js';
export * from './graph-io/index.js';
export * from './cqrs/index.js';
