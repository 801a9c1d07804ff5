import { databaseErrorFacts, PushPullError } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import type { RouteOutcome } from '../../../http/index.js';
import { writeSyncLog, type SyncLogRecord } from './sync-log.js';

/** What a route of the sync API reports of a request (`report`), for its log entry and metrics. */
// a type, not an interface, so that it passes for the route's facts (an index signature)
export type SyncFacts = {
  tenant?: string;
  client?: string;
  models?: string[];
  rowsIn?: number;
  rowsOut?: number;
  conflicts?: number;
  refused?: number;
};

/** Who is told of each request of the sync API: the sync log, the metrics, or the app's own. */
export type SyncLogSink = (record: SyncLogRecord) => void | Promise<void>;

/** Options of the sync API's routes that say where their requests are recorded. */
export interface SyncObserveOptions {
  /** Write an entry of the sync log (`syncLog`) for every request; default true. */
  log?: boolean;
  /** Also told of every request (`createSyncMetrics(...).record`, or the app's own). */
  onRequest?: SyncLogSink;
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** The route's `observe`: the request's outcome as a log record, written to the log and handed to `onRequest`. */
export function syncObserver(orm: MikroORM, endpoint: string, options: SyncObserveOptions): ((outcome: RouteOutcome) => Promise<void>) | undefined {
  const log = options.log !== false;
  if (!log && !options.onRequest) return undefined;
  return async (outcome) => {
    const facts = outcome.facts as SyncFacts;
    const body = (outcome.body ?? {}) as Record<string, unknown>;
    const models = facts.models ?? (Array.isArray(body.models) ? body.models.filter((model): model is string => typeof model === 'string') : []);
    const roles = outcome.principal?.claims.sync_roles;
    const record: SyncLogRecord = {
      user: outcome.principal?.subject ?? null, roles: Array.isArray(roles) ? roles.filter((role): role is string => typeof role === 'string') : [], tenant: facts.tenant ?? text(body.tenant) ?? null, client: facts.client ?? text(body.clientId) ?? null,
      endpoint, models: [...new Set(models)].sort(), rowsIn: facts.rowsIn ?? 0, rowsOut: facts.rowsOut ?? 0, conflicts: facts.conflicts ?? 0, refused: facts.refused ?? 0,
      durationMs: Math.round(outcome.durationMs * 100) / 100, status: outcome.status, errorCode: outcome.errorCode ?? null,
    };
    // the metrics first: a log that cannot be written still counts the request
    await options.onRequest?.(record);
    if (log) {
      await writeSyncLog(orm, record).catch((error: unknown) => {
        throw databaseErrorFacts(error)?.code === '42P01' ? PushPullError.logNotInstalled(error) : error;
      });
    }
  };
}
