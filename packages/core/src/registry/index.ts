export * from './options.js';
export * from './registry.js';
export * from './decorators.js';
