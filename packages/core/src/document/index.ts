export * from './graph-document.js';
export * from './document-writer.js';
export * from './document-reader.js';
