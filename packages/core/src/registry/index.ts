export * from './options.js';
export { discoverSyncModels, discoveryRules, getRegistryEntry, registerMaster, registerReplica, registerSyncModel, registryEntries, unregister } from './registry.js';
export * from './decorators.js';
