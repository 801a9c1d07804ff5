export { exportGraph, type ExportGraphOptions, type ExportResult } from './export-graph.js';
export type { GraphProgress, WalkRules } from './key-walker.js';
export type { GraphRoots, RootRef } from './roots.js';
export { importGraph, type ImportGraphOptions, type ImportReport, type ImportSource, type ConflictPolicy, type EntityImportCounts } from './import-graph.js';
export { deleteGraph, type DeleteGraphOptions, type DeleteReport, type OutsideEffect } from './delete-graph.js';
