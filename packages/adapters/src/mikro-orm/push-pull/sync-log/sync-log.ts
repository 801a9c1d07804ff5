import { OptionError } from '@entity-sync/core';
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import { checkEntityManager } from '../../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { checkTimeRange, idCursor, pagedLines, pageSize } from '../record-pages.js';
import { cutoffOf, keepOf } from '../retention-window.js';
import { SYNC_LOG_TABLE } from './sync-log-table.js';

/** One request of the sync API, as the sync log keeps it. */
export interface SyncLogEntry {
  id: string;
  /** When it was answered (ISO 8601, UTC). */
  at: string;
  /** The token's subject; null when it was refused before it was authenticated. */
  user: string | null;
  /** The roles the user's token carried (`sync_roles`). */
  roles: string[];
  tenant: string | null;
  client: string | null;
  /** `pull`, `push`, `checksum`, `rxdb-pull`, `rxdb-push`, `watermelon-pull`, `watermelon-push`. */
  endpoint: string;
  models: string[];
  /** Rows the client sent (a push's changes). */
  rowsIn: number;
  /** Rows the server sent (a pull's rows and deletes, a push's conflicting server rows). */
  rowsOut: number;
  conflicts: number;
  /** Rows a push refused (outside the user's row filters, another tenant's). */
  refused: number;
  durationMs: number;
  status: number;
  /** The typed error's code, when it failed. */
  errorCode: string | null;
}

/** What a request adds to the log (`id` and `at` are the log's). */
export type SyncLogRecord = Omit<SyncLogEntry, 'id' | 'at'>;

/** Writes one entry, in a transaction of its own (after the request's: a failed push is logged too). */
export async function writeSyncLog(orm: MikroORM, record: SyncLogRecord): Promise<void> {
  await inTransaction(orm.em.fork(), async (tx) => {
    const session = await SqlSession.open(tx);
    await session.run(`INSERT INTO ${ident(defaultSchemaOf(tx))}.${SYNC_LOG_TABLE} (user_id, roles, tenant, client_id, endpoint, models, rows_in, rows_out, conflicts, refused, ` +
      'duration_ms, status, error_code) VALUES (?, ?::text[], ?, ?, ?, ?::text[], ?, ?, ?, ?, ?, ?, ?)',
    [record.user, record.roles, record.tenant, record.client, record.endpoint, record.models, record.rowsIn, record.rowsOut, record.conflicts, record.refused,
      record.durationMs, record.status, record.errorCode]);
  });
}

/** Options of `syncLog` and `exportSyncLog`: every filter given must hold. */
export interface SyncLogOptions {
  user?: string;
  tenant?: string;
  client?: string;
  endpoint?: string;
  /** Entries naming this model. */
  model?: string;
  /** Only failed requests (status 400 or more), or only those that did not fail. */
  failed?: boolean;
  /** Entries at or after this time. */
  since?: Date;
  /** Entries before this time. */
  until?: Date;
  /** Entries per page (default 100, at most 10,000). */
  limit?: number;
  /** The `cursor` of the page before. */
  cursor?: string | null;
}

/** A page of the sync log, newest first. */
export interface SyncLogPage {
  entries: SyncLogEntry[];
  /** Pass it back for the next page; null when this page is the last. */
  cursor: string | null;
}

type Row = { id: string; at: Date | string; user_id: string | null; roles: string[]; tenant: string | null; client_id: string | null; endpoint: string; models: string[];
  rows_in: number; rows_out: number; conflicts: number; refused: number; duration_ms: number; status: number; error_code: string | null };

const entryOf = (row: Row): SyncLogEntry => ({
  id: row.id, at: new Date(row.at).toISOString(), user: row.user_id, roles: row.roles, tenant: row.tenant, client: row.client_id, endpoint: row.endpoint, models: row.models,
  rowsIn: row.rows_in, rowsOut: row.rows_out, conflicts: row.conflicts, refused: row.refused, durationMs: Number(row.duration_ms), status: row.status, errorCode: row.error_code,
});

const cursors = idCursor('log', 'sync log');

async function readPage(session: SqlSession, schema: string, fn: string, options: SyncLogOptions, limit: number): Promise<SyncLogPage> {
  checkTimeRange(fn, options);
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    where.push(sql);
    params.push(value);
  };
  if (options.user !== undefined) add('user_id = ?', options.user);
  if (options.tenant !== undefined) add('tenant = ?', options.tenant);
  if (options.client !== undefined) add('client_id = ?', options.client);
  if (options.endpoint !== undefined) add('endpoint = ?', options.endpoint);
  if (options.model !== undefined) add('? = ANY(models)', options.model);
  if (options.failed !== undefined) where.push(options.failed ? 'status >= 400' : 'status < 400');
  if (options.since) add('at >= ?', options.since.toISOString());
  if (options.until) add('at < ?', options.until.toISOString());
  if (options.cursor) add('l.id < ?::bigint', cursors.decode(options.cursor));
  const rows = await session.query<Row>(`SELECT l.id::text AS id, at, user_id, roles, tenant, client_id, endpoint, models, rows_in, rows_out, conflicts, refused, duration_ms, status, error_code ` +
    `FROM ${ident(schema)}.${SYNC_LOG_TABLE} l ${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY l.id DESC LIMIT ${limit + 1}`, params);
  const entries = rows.slice(0, limit).map(entryOf);
  return { entries, cursor: rows.length > limit ? cursors.encode(entries.at(-1)!.id) : null };
}

/**
 * Lists the sync log, newest first, a page at a time, by user, tenant, client, endpoint, model,
 * failure and time range.
 *
 * @example
 * ```ts
 * const { entries } = await syncLog(orm.em.fork(), { user: 'alice', failed: true });
 * ```
 */
export async function syncLog(em: EntityManager, options: SyncLogOptions = {}): Promise<SyncLogPage> {
  checkEntityManager('syncLog', em, "syncLog(orm.em.fork(), { user: 'alice' })");
  const limit = pageSize('syncLog', options.limit);
  return inTransaction(em, async (tx) => readPage(await SqlSession.open(tx), defaultSchemaOf(tx), 'syncLog', options, limit));
}

const CSV_COLUMNS = ['id', 'at', 'user', 'roles', 'tenant', 'client', 'endpoint', 'models', 'rowsIn', 'rowsOut', 'conflicts', 'refused', 'durationMs', 'status', 'errorCode'] as const;

/**
 * The sync log's entries that pass the filters, newest first, as CSV (a header line first) or
 * NDJSON, a chunk of lines at a time: to write to a file or an HTTP answer.
 *
 * @example
 * ```ts
 * for await (const lines of exportSyncLog(orm.em.fork(), { format: 'csv', since })) file.write(lines);
 * ```
 */
export function exportSyncLog(em: EntityManager, options: Omit<SyncLogOptions, 'cursor' | 'limit'> & { format: 'csv' | 'ndjson' }): AsyncGenerator<string> {
  checkEntityManager('exportSyncLog', em, "exportSyncLog(orm.em.fork(), { format: 'csv' })");
  return pagedLines('exportSyncLog', options.format, (cursor) => syncLog(em, { ...options, cursor, limit: 1000 }), [...CSV_COLUMNS],
    (entry) => CSV_COLUMNS.map((column) => (column === 'models' || column === 'roles' ? entry[column].join(' ') : entry[column] ?? '')));
}

/** Options of `pruneSyncLog`. */
export interface PruneSyncLogOptions {
  /** Entries older than this go: a date, or an age in milliseconds. */
  olderThan?: Date | number;
  /** At most this many entries stay, the newest. */
  keep?: number;
}

/**
 * Applies the sync log's retention: removes the entries older than `olderThan` and those past the
 * newest `keep`. Returns how many went. Run it on a schedule (`scheduleRetention`, or `entity-sync log prune` from cron).
 *
 * @example
 * ```ts
 * await pruneSyncLog(orm.em.fork(), { olderThan: 30 * 86_400_000 });
 * ```
 */
export async function pruneSyncLog(em: EntityManager, options: PruneSyncLogOptions): Promise<number> {
  checkEntityManager('pruneSyncLog', em, 'pruneSyncLog(orm.em.fork(), { olderThan: 30 * 86_400_000 })');
  if (options?.olderThan === undefined && options?.keep === undefined) throw OptionError.invalid('pruneSyncLog', 'olderThan', undefined, 'olderThan, keep, or both');
  const cutoff = cutoffOf('pruneSyncLog', options.olderThan);
  const keep = keepOf('pruneSyncLog', options.keep);
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const log = `${ident(defaultSchemaOf(tx))}.${SYNC_LOG_TABLE}`;
    let removed = 0;
    if (cutoff) removed += await session.run(`DELETE FROM ${log} WHERE at < ?`, [cutoff.toISOString()]);
    if (keep !== undefined) {
      removed += await session.run(keep === 0 ? `DELETE FROM ${log}` : `DELETE FROM ${log} WHERE id < (SELECT id FROM ${log} ORDER BY id DESC OFFSET ${keep - 1} LIMIT 1)`);
    }
    return removed;
  });
}
