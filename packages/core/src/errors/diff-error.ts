import { EntitySyncError } from './entity-sync-error.js';

/** Two sources cannot be compared as asked. */
export class DiffError extends EntitySyncError {
  /** A source that says it is sorted yielded a key before the one it had just given. */
  static notSorted(source: string, key: unknown[], previous: unknown[]): DiffError {
    return new DiffError('DIFF_SOURCE_NOT_SORTED',
      `${source} says its records come sorted by the key, but ${JSON.stringify(key)} came after ${JSON.stringify(previous)}. ` +
      'Sort it by the key in the order of compareKeys (texts by code point, as COLLATE "C"), or do not declare sortedBy: the diff then hashes it.',
      { info: { source, key, previous } });
  }

  /** A record of a file source that cannot be read (not JSON, a malformed CSV row, a column missing). */
  static sourceInvalid(source: string, line: number, why: string): DiffError {
    return new DiffError('DIFF_SOURCE_INVALID', `${source}, line ${line}: ${why}. Fix the file (or the source's options) and run the diff again; nothing was done.`,
      { info: { source, line, why } });
  }

  /** A reconcile found actions no handler takes; nothing was done. */
  static unhandled(report: { unhandled: { model: string; action: string; field?: string; count: number }[] }): DiffError {
    const listed = report.unhandled.map((item) => `${item.count} ${item.model} ${item.action}${item.field ? ` of ${item.field}` : ''}`).join(', ');
    return new DiffError('RECONCILE_UNHANDLED',
      `No handler takes ${listed}; nothing was done. Add the handlers, or pass allowUnhandled: true to do the rest and report these.`,
      { info: { report } });
  }

  /** A reconcile found records it cannot match (duplicate or null keys); nothing was done. */
  static unmatched(report: unknown, problems: number): DiffError {
    return new DiffError('RECONCILE_UNMATCHED',
      `${problems} record${problems === 1 ? '' : 's'} could not be matched by key (duplicate or null keys, listed in the report's problems); nothing was done. ` +
      'Fix the sources, or pass allowProblems: true to reconcile the rest.', { info: { report } });
  }

  /** `strategy: 'merge'` with a source not sorted by the diff's key. */
  static mergeNeedsSorted(source: string): DiffError {
    return new DiffError('DIFF_SOURCE_NOT_SORTED',
      `A merge needs both sources sorted by the diff's key, and ${source} does not say it is (sortedBy). Declare it sorted, or leave strategy unset to hash it.`,
      { info: { source } });
  }

  /** `strategy: 'sql'` or `'bisect'` with sources that cannot compare themselves in their databases. */
  static strategyUnavailable(strategy: string, left: string, right: string): DiffError {
    return new DiffError('DIFF_STRATEGY_UNAVAILABLE',
      `strategy '${strategy}' needs two PostgreSQL tables (fromTable) keyed by the diff's key, with the compared fields in both; ${left} and ${right} cannot. ` +
      'Leave strategy unset to let the sources choose, or use fromTable on both sides.', { info: { strategy, left, right } });
  }

  /** A source could not be read to the end: its server stopped, its connection was cut. Nothing was done. */
  static sourceFailed(source: string, cause: unknown): DiffError {
    const why = cause instanceof Error ? cause.message : String(cause);
    return new DiffError('DIFF_SOURCE_FAILED', `Reading ${source} failed: ${why}. Nothing was done; run the diff again once it can be read.`,
      { info: { source }, cause });
  }
}
