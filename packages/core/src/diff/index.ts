export { compareKeys, keyText, type KeySpec } from './diff-key.js';
export { fromRecords, type DiffCandidates, type DiffSource, type NarrowRequest } from './diff-source.js';
export { fromCsv, fromNdjson, type CsvSourceOptions, type FileInput, type NdjsonSourceOptions } from './file-sources.js';
export { comparators, sameValue, type FieldComparator } from './field-compare.js';
export { diff, diffStream, type DiffAction, type DiffOptions, type DiffProblem, type DiffResult, type DiffStrategy, type FieldDiff } from './diff.js';
export { describeDiff, describeReconcile, reconcile, type ActionHandler, type ActionResult, type HandlerOutcome, type ModelHandlers, type ModelReconcileReport, type ReconcileModel, type ReconcileOptions, type ReconcileReport } from './reconcile.js';
