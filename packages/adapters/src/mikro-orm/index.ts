export { EntitySync, type EntitySyncOptions, type EntityRef, type LookupOptions } from './entity-sync.js';
export { buildRelationGraph } from './graph-builder.js';
export type { RegistryWarning } from './registry-validator.js';
export type { ResolvedNaturalKey } from './natural-key-paths.js';
export * from './graph/index.js';
export * from './cqrs/index.js';
