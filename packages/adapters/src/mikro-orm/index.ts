export { EntitySync, type EntitySyncOptions, type EntityRef, type LookupOptions } from './extension/entity-sync.js';
export type { RegistryWarning } from './extension/registry-validator.js';
export * from './graph-io/index.js';
export * from './cqrs/index.js';
export * from './env-sync/index.js';
export * from './push-pull/index.js';
export * from './diff/index.js';
