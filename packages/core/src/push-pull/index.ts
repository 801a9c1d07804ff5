export { decodeCheckpoint, encodeCheckpoint, type PullPosition } from './checkpoint.js';
