export * from './graph-document.js';
export * from './document-writer.js';
export * from './document-reader.js';
export * from './json-prefix.js';
