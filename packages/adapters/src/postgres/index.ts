export * from './postgres-transport.js';
export * from './sql-client.js';
