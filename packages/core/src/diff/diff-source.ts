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
  /**
   * Finds, without reading every record, the records where this source (the left) and `other`
   * may differ: a PostgreSQL table against another in the same database (one query) or in another
   * (checksums of key ranges). Undefined when it cannot compare itself with `other`; the diff then
   * reads both.
   */
  narrow?(other: DiffSource<unknown>, request: NarrowRequest): Promise<DiffCandidates<R> | undefined>;
}

/** What `narrow` is asked: the diff's key (field names), the fields it compares (default the left's own), its signal. */
export interface NarrowRequest {
  key: string[];
  fields?: string[];
  signal?: AbortSignal;
}

/** The records a source's `narrow` found may differ, for the diff to compare as it compares any records. */
export interface DiffCandidates<R = Record<string, unknown>, O = Record<string, unknown>> {
  /** How they were found: `sql`, one query in one database; `bisect`, checksums of key ranges computed in two. */
  strategy: 'sql' | 'bisect';
  /** Every record of the keys that may differ, and every record with a null or duplicated key, of each side. */
  left: R[];
  right: O[];
  /** Records of the left side not among them: each the same as the right's record of its key. */
  unchanged: number;
  /** What it took: queries, rows listed and fetched, levels of bisection. */
  stats: Record<string, number>;
}

/** A source over records in memory or an iterable: `sortedBy` when they are in that key's order. */
export function fromRecords<R>(name: string, records: Iterable<R> | AsyncIterable<R> | (() => Iterable<R> | AsyncIterable<R>), options: { sortedBy?: KeySpec<R> } = {}): DiffSource<R> {
  return { name, records: () => (typeof records === 'function' ? records() : records), ...(options.sortedBy !== undefined ? { sortedBy: options.sortedBy } : {}) };
}
