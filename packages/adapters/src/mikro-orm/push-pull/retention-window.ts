import { OptionError } from '@entity-sync/core';

/** The cutoff of a retention's `olderThan` (a date, or an age in milliseconds), or undefined when none is given; `INVALID_OPTION` for anything else. */
export function cutoffOf(fn: string, olderThan: unknown): Date | undefined {
  if (olderThan === undefined) return undefined;
  const cutoff = olderThan instanceof Date ? olderThan : typeof olderThan === 'number' && olderThan >= 0 ? new Date(Date.now() - olderThan) : undefined;
  if (!cutoff || Number.isNaN(cutoff.getTime())) throw OptionError.invalid(fn, 'olderThan', olderThan, 'a Date or an age in milliseconds (0 or more)');
  return cutoff;
}

/** A retention's `keep` (how many of the newest entries stay), checked. */
export function keepOf(fn: string, keep: unknown): number | undefined {
  if (keep !== undefined && !(Number.isInteger(keep) && (keep as number) >= 0)) throw OptionError.invalid(fn, 'keep', keep, 'a whole number of 0 or more');
  return keep as number | undefined;
}
