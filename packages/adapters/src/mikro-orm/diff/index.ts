export { fromEntity, type EntitySourceOptions } from './entity-source.js';
