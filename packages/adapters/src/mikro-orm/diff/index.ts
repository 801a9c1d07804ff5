export { fromEntity, type EntitySourceOptions } from './entity-source.js';
export { fromTable, type TableSourceOptions } from './table-source.js';
