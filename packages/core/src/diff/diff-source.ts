import type { KeySpec } from './diff-key.js';

/**
 * Records to compare, read once per diff: a table, a file, a remote API, an array. A source
 * that yields its records in ascending key order (`compareKeys`) says so with `sortedBy`, and the
 * diff then merges it in constant memory.
 *
 * @example
 * ```ts
 * const roster: DiffSource = { name: 'roster.csv', records: () => readRoster() };
 * ```
 */
export interface DiffSource<R = Record<string, unknown>> {
  /** What the source is, for reports and errors (`roster.csv`, `table students`). */
  readonly name: string;
  /** The records (read once; the signal ends a read left early). */
  records(signal?: AbortSignal): AsyncIterable<R> | Iterable<R>;
  /** The records come in ascending order of this key (`compareKeys`), as a diff by the same key needs for a merge. */
  readonly sortedBy?: KeySpec<R>;
}

/** A source over records in memory or an iterable: `sortedBy` when they are in that key's order. */
export function fromRecords<R>(name: string, records: Iterable<R> | AsyncIterable<R> | (() => Iterable<R> | AsyncIterable<R>), options: { sortedBy?: KeySpec<R> } = {}): DiffSource<R> {
  return { name, records: () => (typeof records === 'function' ? records() : records), ...(options.sortedBy !== undefined ? { sortedBy: options.sortedBy } : {}) };
}
