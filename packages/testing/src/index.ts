export * from './test-backend.js';
export * from './pglite-backend.js';
export * from './postgres-backend.js';
export * from './postgres-cluster.js';
export * from './backends.js';
export * from './sql-file.js';
export * from './rabbitmq-broker.js';
export * from './rabbitmq-cluster.js';
// the in-memory transport with fault injection (duplicates, reordering), for an app's own tests
export { MemoryTransport, type MemoryTransportOptions, type MemoryFaults, type DeadLetter } from '@entity-sync/adapters/memory';
export * from './until.js';
export { transportContract } from './transport-contract.js';
export { allAdmin, type TransportFixture, type ContractTransportOptions, type AdminMethod } from './transport-fixture.js';
