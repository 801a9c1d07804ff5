export * from './errors/index.js';
export * from './registry/index.js';
export * from './graph/index.js';
export * from './natural-key/index.js';
export * from './document/index.js';
export * from './cqrs/index.js';
export * from './env-sync/index.js';
export * from './push-pull/index.js';
