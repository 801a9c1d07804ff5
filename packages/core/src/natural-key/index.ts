export * from './natural-key.js';
