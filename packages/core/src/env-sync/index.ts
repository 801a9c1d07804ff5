export * from './sync-stream.js';
export * from './file-storage.js';
export * from './pull-report.js';
