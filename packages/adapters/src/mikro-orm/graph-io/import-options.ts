import type { GraphProgress } from './key-walker.js';

/** What to do with a document row that already exists in the target. */
export type ConflictPolicy = 'fail' | 'skip' | 'overwrite' | 'remap';

/** Options of `importGraph`. */
export interface ImportGraphOptions {
  /** Do everything, report it, and roll back. */
  dryRun?: boolean;
  /**
   * `fail` (default): report every conflict and change nothing; `skip`: keep the existing rows;
   * `overwrite`: update them; `remap`: insert every row under a new key and rewrite the keys that point at it.
   */
  onConflict?: ConflictPolicy;
  /** `naturalKey`: a row whose `@SyncModel` natural key exists in the target is reused, not imported. */
  matchBy?: 'primaryKey' | 'naturalKey';
  /**
   * `fire` (default): the target's triggers run as for any insert, and values a BEFORE trigger changes
   * are reported under `rewritten`. `disable`: the written tables' enabled user triggers are switched
   * off while their rows go in and back on after (like pg_restore --disable-triggers; needs the tables'
   * owner and locks them against writes until commit), so that a restore is exact. Foreign-key checks
   * deferred until commit are run before each switch (`SET CONSTRAINTS ALL IMMEDIATE`, for the rest of
   * the transaction), since PostgreSQL alters no table with checks pending.
   */
  triggers?: 'fire' | 'disable';
  /** Rows converted and sent at a time into an entity's staging COPY. Default 5000. */
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (progress: GraphProgress) => void;
}
