import type { CqrsMessage } from './cqrs-message.js';

/** What a replica last applied for one row: its revision, and whether that was a delete (a tombstone). */
export interface StoredRevision {
  revision: number;
  deleted: boolean;
}

/**
 * `apply`: newer than what the replica has (`gap` when revisions were skipped: applied, and worth a log line);
 * `duplicate`: the same revision again; `stale`: older than what the replica has (late delivery).
 */
export type RevisionVerdict = 'apply' | 'gap' | 'duplicate' | 'stale';

/**
 * Decides whether a message may change a replica row. Messages are applied in revision order
 * per row whatever order they arrive in: an older or equal revision never overwrites a newer
 * one, and a delete leaves a tombstone so that a late save cannot bring the row back. A
 * `sync` message (from the repair tools) also applies at an equal revision.
 */
export function judgeRevision(stored: StoredRevision | undefined, message: Pick<CqrsMessage, 'revision' | 'operation'>): RevisionVerdict {
  if (!stored) return 'apply';
  if (message.revision > stored.revision) return message.revision > stored.revision + 1 ? 'gap' : 'apply';
  if (message.revision === stored.revision) return message.operation === 'sync' ? 'apply' : 'duplicate';
  return 'stale';
}
