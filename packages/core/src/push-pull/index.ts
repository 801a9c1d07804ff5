export { decodeCheckpoint, encodeCheckpoint, type PullPosition } from './checkpoint.js';
export { documentsChecksum, type DocumentsChecksum } from './checksum.js';
