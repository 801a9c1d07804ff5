export * from './cqrs-message.js';
export * from './revision-guard.js';
export * from './transport.js';
export * from './transport-admin.js';
