import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { arrayLiteral, ident, SqlSession } from '../../internal/pg/sql-session.js';

/** The table of the per-user sync state: per user, client and model, the last checkpoint handed out and when. */
export const SYNC_STATE_TABLE = 'entity_sync_client_state';

/** The state table, created by `installPushPull`. */
export const syncStateTableSql = `CREATE TABLE IF NOT EXISTS ${SYNC_STATE_TABLE} (user_id text NOT NULL, client_id text NOT NULL, model text NOT NULL, ` +
  'checkpoint text, pulled_at timestamptz, pushed_at timestamptz, PRIMARY KEY (user_id, client_id, model))';

/** Where one client of one user stands with one model. */
export interface SyncState {
  user: string;
  client: string;
  model: string;
  /** The checkpoint of its last pull (null: it has pushed, never pulled). */
  checkpoint: string | null;
  pulledAt: Date | null;
  pushedAt: Date | null;
}

/** What a request of the API records: a pull's checkpoint, or that a push was made, for `models`. */
export interface SyncStateRecord {
  user: string;
  client: string;
  models: string[];
  /** A pull's new checkpoint; none for a push. */
  checkpoint?: string;
}

/** Records where a client stands after a pull (its new checkpoint) or a push, per model, in the caller's transaction or its own. */
export async function recordSyncState(em: EntityManager, record: SyncStateRecord): Promise<void> {
  if (!record.models.length) return;
  await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const pulled = record.checkpoint !== undefined;
    await session.run(
      `INSERT INTO ${ident(defaultSchemaOf(tx))}.${SYNC_STATE_TABLE} AS s (user_id, client_id, model, checkpoint, pulled_at, pushed_at) ` +
      `SELECT ?, ?, m, ?, ${pulled ? 'now()' : 'NULL'}, ${pulled ? 'NULL' : 'now()'} FROM unnest(?::text[]) m ` +
      `ON CONFLICT (user_id, client_id, model) DO UPDATE SET ${pulled ? 'checkpoint = EXCLUDED.checkpoint, pulled_at = EXCLUDED.pulled_at' : 'pushed_at = EXCLUDED.pushed_at'}`,
      [record.user, record.client, record.checkpoint ?? null, arrayLiteral(record.models)]);
  });
}

interface StateRow { user_id: string; client_id: string; model: string; checkpoint: string | null; pulled_at: string | Date | null; pushed_at: string | Date | null }

/**
 * The sync state of the API's clients: per user, client and model, the last checkpoint handed
 * out and when it last pulled and pushed (recorded by the HTTP routes, by the token's subject and
 * the request's `clientId`). Filter by user or client; what an admin page shows, and what an app
 * reads to find clients that stopped syncing.
 *
 * @example
 * ```ts
 * const stale = (await syncStates(orm.em.fork(), { user: 'ada' })).filter((state) => state.pulledAt! < weekAgo);
 * ```
 */
export async function syncStates(em: EntityManager, filter: { user?: string; client?: string } = {}): Promise<SyncState[]> {
  checkEntityManager('syncStates', em, "syncStates(orm.em.fork(), { user: 'ada' })");
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const conditions = [filter.user !== undefined && 'user_id = ?', filter.client !== undefined && 'client_id = ?'].filter(Boolean);
    const rows = await session.query<StateRow>(
      `SELECT user_id, client_id, model, checkpoint, pulled_at, pushed_at FROM ${ident(defaultSchemaOf(tx))}.${SYNC_STATE_TABLE}` +
      `${conditions.length ? ` WHERE ${conditions.join(' AND ')}` : ''} ORDER BY user_id, client_id, model`,
      [...(filter.user !== undefined ? [filter.user] : []), ...(filter.client !== undefined ? [filter.client] : [])]);
    const date = (value: string | Date | null) => (value === null ? null : new Date(value));
    return rows.map((row) => ({ user: row.user_id, client: row.client_id, model: row.model, checkpoint: row.checkpoint, pulledAt: date(row.pulled_at), pushedAt: date(row.pushed_at) }));
  });
}
