export * from './graph-document.js';
export * from './document-writer.js';
export { documentFromObject, parseJsonDocument, readNdjsonDocument, type DocumentSource } from './document-reader.js';
export { NonBlankLines, type LineInput } from './non-blank-lines.js';
