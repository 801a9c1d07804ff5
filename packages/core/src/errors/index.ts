export * from './entity-sync-error.js';
export * from './error-code.js';
export * from './option-error.js';
export * from './registry-error.js';
export * from './graph-error.js';
export * from './natural-key-error.js';
export * from './document-error.js';
export * from './import-error.js';
