import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { ident, SqlSession } from '../../internal/pg/sql-session.js';
import { cutoffOf } from './retention-window.js';
import { PUSH_LOG_TABLE, PUSH_PULL_STATE_TABLE, ROW_VERSION_TABLE } from './row-versions.js';

const PRUNED_BELOW = 'tombstones_pruned_below';

/** The transaction id below which tombstones were pruned (none: every delete is still kept). */
export async function prunedBelow(session: SqlSession, schema: string): Promise<string | undefined> {
  const [row] = await session.query<{ value: string }>(`SELECT value FROM ${ident(schema)}.${PUSH_PULL_STATE_TABLE} WHERE name = ?`, [PRUNED_BELOW]);
  return row?.value;
}

/** Options of `pruneTombstones`. */
export interface PruneTombstonesOptions {
  /** Deletes older than this are forgotten: a date, or an age in milliseconds. */
  olderThan: Date | number;
}

/**
 * Forgets the deletes (tombstones) older than the retention window, so that the row-version table
 * does not grow with every row ever deleted. A client whose checkpoint is older than a forgotten
 * delete can no longer be told of it: its next pull is refused with `PULL_RESYNC_REQUIRED` (409),
 * and it pulls again from the start, and its next push too. The pushes remembered for replays
 * (`entity_sync_push`) older than the window go with them: a replay that old is refused the same
 * way when it carries its checkpoint. Run it on a schedule (daily, with a window longer than
 * clients stay offline). Returns how many deletes were forgotten.
 *
 * @example
 * ```ts
 * await pruneTombstones(orm.em.fork(), { olderThan: 30 * 24 * 3600_000 }); // 30 days
 * ```
 */
export async function pruneTombstones(em: EntityManager, options: PruneTombstonesOptions): Promise<number> {
  checkEntityManager('pruneTombstones', em, 'pruneTombstones(orm.em.fork(), { olderThan: 30 * 24 * 3600_000 })');
  // required: none is refused as a wrong one
  const cutoff = cutoffOf('pruneTombstones', options?.olderThan ?? null)!;
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = ident(defaultSchemaOf(tx));
    const [row] = await session.query<{ pruned: string; below: string | null }>(
      `WITH gone AS (DELETE FROM ${schema}.${ROW_VERSION_TABLE} WHERE deleted AND changed_at < ? RETURNING xid) ` +
      "SELECT count(*)::text AS pruned, (max(xid::text::numeric) + 1)::text AS below FROM gone", [cutoff.toISOString()]);
    if (row?.below) {
      await session.run(`INSERT INTO ${schema}.${PUSH_PULL_STATE_TABLE} (name, value) VALUES (?, ?) ` +
        'ON CONFLICT (name) DO UPDATE SET value = greatest(EXCLUDED.value::numeric, ' + `${PUSH_PULL_STATE_TABLE}.value::numeric)::text`, [PRUNED_BELOW, row.below]);
    }
    await session.run(`DELETE FROM ${schema}.${PUSH_LOG_TABLE} WHERE pushed_at < ?`, [cutoff.toISOString()]);
    return Number(row?.pruned ?? 0);
  });
}
