export * from './options.js';
export { getRegistryEntry, registerMaster, registerReplica, registerSyncModel, registryEntries, unregister } from './registry.js';
export * from './decorators.js';
