export * from './test-backend.js';
export * from './pglite-backend.js';
export * from './postgres-backend.js';
export * from './postgres-cluster.js';
export * from './backends.js';
export * from './sql-file.js';
export * from './rabbitmq-broker.js';
