import { CONTENT_VERSION } from './streams.js';

/**
 * How a replica row differs from the master: absent, behind the master's revision, not on the
 * master at all, or at the master's revision with other content in the fields it replicates.
 */
export type DiffKind = 'missing' | 'stale' | 'extra' | 'changed';

/** The kinds a diff report of this format version may hold (version 1 compares revisions only). */
export function diffKinds(version: number): readonly DiffKind[] {
  return version >= CONTENT_VERSION ? ['missing', 'stale', 'extra', 'changed'] : ['missing', 'stale', 'extra'];
}

/** A count per kind, all zero. */
export function noDifferences(version: number): Partial<Record<DiffKind, number>> {
  return Object.fromEntries(diffKinds(version).map((kind) => [kind, 0]));
}

let tempTables = 0;

/** A name for a temporary table of this process. */
export const tempName = (what: string) => `entity_sync_${what}_${process.pid}_${++tempTables}`;
