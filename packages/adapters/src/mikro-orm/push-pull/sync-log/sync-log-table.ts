import { ident } from '../../../internal/pg/sql-session.js';

/** The sync log: one entry per request of the sync API (pull, push, checksum, and the RxDB and WatermelonDB adapters' routes). */
export const SYNC_LOG_TABLE = 'entity_sync_log';

/** The statements that create the sync log (idempotent; `installPushPull` runs them). */
export function syncLogTableSql(schema: string): string[] {
  const s = ident(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.${SYNC_LOG_TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp(), ` +
      'user_id text, roles text[] NOT NULL, tenant text, client_id text, endpoint text NOT NULL, models text[] NOT NULL, rows_in integer NOT NULL, rows_out integer NOT NULL, ' +
      'conflicts integer NOT NULL, refused integer NOT NULL, duration_ms double precision NOT NULL, status integer NOT NULL, error_code text)',
    `CREATE INDEX IF NOT EXISTS ${SYNC_LOG_TABLE}_by_user ON ${s}.${SYNC_LOG_TABLE} (user_id, id)`,
    `CREATE INDEX IF NOT EXISTS ${SYNC_LOG_TABLE}_by_time ON ${s}.${SYNC_LOG_TABLE} USING brin (at)`,
  ];
}
