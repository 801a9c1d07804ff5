import { decodeCheckpoint, OptionError, PushPullError } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { HttpRoutes, Principal } from '../../http/index.js';
import { pullChanges } from './pull-changes.js';
import { pushChanges, type PushChange, type PushConflictPolicy } from './push-changes.js';
import { syncObserver, type SyncFacts, type SyncObserveOptions } from './sync-log/sync-observer.js';
import { PUSH_PULL_PULL_RIGHT, PUSH_PULL_PUSH_RIGHT, syncScope } from './push-pull-http.js';
import { recordSyncState } from './sync-state.js';
import { fromRaw, fromRawId, toRaw, watermelonTables, type WatermelonTable, type WatermelonTableOptions } from './watermelon-tables.js';

export type { WatermelonTableOptions } from './watermelon-tables.js';

/** Options of `watermelonRoutes`. */
export interface WatermelonRoutesOptions extends SyncObserveOptions {
  /** The models the API serves (entity names); default every `@SyncModel`. */
  models?: string[];
  /** Users' tokens get the permissions and row filters of their roles, as with `pushPullRoutes({ permissions })`. */
  permissions?: boolean;
  /** Per model (entity name), its table name and column names in the client's schema (default those of the database). */
  tables?: Record<string, WatermelonTableOptions>;
  /** The right the pull needs (default `push-pull:pull`, as `POST /pull`). */
  pullRight?: string;
  /** The right the push needs (default `push-pull:push`, as `POST /push`). */
  pushRight?: string;
  /** Per model, how push conflicts are resolved (default `server-wins`: the push fails with 409 `PUSH_CONFLICT`). */
  conflicts?: Record<string, PushConflictPolicy>;
  /**
   * About how many changes one pull answers (default 50 000): past it the answer stops at a
   * transaction boundary with `hasMore: true`, and the next sync goes on from there. A first sync
   * (and a table a migration added) reads the tables themselves and comes whole.
   */
  maxPullChanges?: number;
}

/** The pull's answer: WatermelonDB's `{ changes, timestamp }`, and `hasMore` when it stopped at `maxPullChanges`. */
interface WatermelonPull {
  changes: Record<string, { created: Record<string, unknown>[]; updated: Record<string, unknown>[]; deleted: string[] }>;
  timestamp: number;
  hasMore: boolean;
}

const PAGE = 1000;
const DEFAULT_MAX_PULL_CHANGES = 50_000;
const TIMESTAMP_RULE = 'a positive whole number (the timestamp of the last pull), or null';

// `lastPulledAt`: a number in a body, text in a query; null and 0 both mean "never pulled"
const lastPulledAtField = z.preprocess(
  (value) => typeof value === 'string' ? (value === '' || value === 'null' ? null : /^\d+$/.test(value) ? Number(value) : Number.NaN) : value,
  z.number().nullable().optional().refine((value) => value === null || value === undefined || (Number.isSafeInteger(value) && value >= 0), TIMESTAMP_RULE));
const tenantField = z.string().min(1).max(200).optional();

/** The checkpoint a WatermelonDB timestamp stands for: every change of the transactions before it was pulled. */
const checkpointOf = (lastPulledAt: number | null | undefined) => lastPulledAt ? `1.${lastPulledAt}` : null;

/** A transaction id as WatermelonDB's timestamp: a number that must be safe and above 0. */
function timestampOf(xid: string): number {
  const timestamp = Number(xid);
  if (!Number.isSafeInteger(timestamp) || timestamp <= 0) throw PushPullError.timestampUnsafe(xid);
  return timestamp;
}

/**
 * Everything that changed in `tables` since `checkpoint`, one page of `pullChanges` after the other
 * (each in its own snapshot: the checkpoints never skip, so the pages add up to every change). A
 * row met on several pages counts as it was on the last. Past `max` changes, it stops at the first
 * page that ends in a later transaction than the first page did: the timestamp is then that
 * transaction's id, whose changes come again in the next sync (and every change before it was sent).
 */
async function pullTables(orm: MikroORM, tables: WatermelonTable[], checkpoint: string | null, scope: object, served: string[] | undefined,
  max: number, signal: AbortSignal): Promise<{ rows: Map<string, Map<string, Record<string, unknown> | null>>; timestamp: number; hasMore: boolean }> {
  const byModel = new Map(tables.map((table) => [table.model, table]));
  const rows = new Map(tables.map((table) => [table.table, new Map<string, Record<string, unknown> | null>()]));
  let count = 0;
  let firstXid: bigint | undefined;
  for (;;) {
    const answer = await pullChanges(orm.em.fork(), { checkpoint, models: [...byModel.keys()], served, limit: Math.min(PAGE, max), ...scope, signal });
    for (const change of answer.changes) {
      const table = byModel.get(change.model)!;
      const held = rows.get(table.table)!;
      // a row met again moves to the end, as it is now
      const put = (id: string, raw: Record<string, unknown> | null) => {
        held.delete(id);
        held.set(id, raw);
      };
      for (const doc of change.upserted) put(String(doc[table.keyProperty]), toRaw(table, doc));
      for (const id of change.deleted) put(String(id), null);
      count += change.upserted.length + change.deleted.length;
    }
    const position = decodeCheckpoint(answer.checkpoint)!;
    if (!answer.hasMore) return { rows, timestamp: timestampOf(position.xid), hasMore: false };
    const xid = BigInt(position.xid);
    firstXid ??= xid;
    if (count >= max && xid > firstXid) return { rows, timestamp: timestampOf(position.xid), hasMore: true };
    checkpoint = answer.checkpoint;
  }
}

/** The client's tables to pull again from the start: those a schema migration added or gave new columns. */
function migratedTables(migration: { tables?: string[]; columns?: { table: string }[] } | null | undefined): Set<string> {
  return new Set([...(migration?.tables ?? []), ...(migration?.columns ?? []).map((item) => item.table)]);
}

/** The sync scope and, for a push, who the client is: `x-sync-client`, `?clientId=`, or the token's subject. */
function clientIdOf(request: Request, query: { clientId?: string }, principal: Principal | null): string {
  return request.headers.get('x-sync-client') ?? query.clientId ?? `watermelon:${principal?.subject ?? 'anonymous'}`;
}

/**
 * The push/pull sync API in WatermelonDB's sync protocol, for `synchronize()` of an unmodified
 * WatermelonDB client.
 *
 * `GET <prefix>/watermelon/pull?lastPulledAt=&tables=&tenant=` (or `POST` with the same fields, and
 * WatermelonDB's `schemaVersion` and `migration`) answers `{ changes, timestamp, hasMore }`: every
 * change since `lastPulledAt` (null or 0: everything) of the tables asked (default all), each row as
 * it is now, in `updated` (so clients set `sendCreatedAsUpdated: true`: the capture keeps a row's
 * last change only, not whether the client has seen the row, and an update of a row the client
 * lacks creates it), deleted rows' ids in `deleted`. The timestamp is the pull's horizon, a
 * transaction id: the changes of every transaction before it were sent. Tables a `migration`
 * added or widened are pulled from the start. `hasMore` says the answer stopped at `maxPullChanges`:
 * sync again. A first sync reads the tables themselves (`pullChanges`) and comes whole: a
 * timestamp cannot hold a position inside that reading.
 *
 * `POST <prefix>/watermelon/push?lastPulledAt=` with WatermelonDB's `{ changes, lastPulledAt }`
 * applies them in one transaction (`pushChanges`): created and updated rows are both written as
 * they are (a create of a row that exists updates it, an update of a missing one creates it), a
 * delete of a missing row is nothing. A row another client or the app changed since
 * `lastPulledAt` fails the whole push with 409 `PUSH_CONFLICT`, nothing written, unless its model's
 * policy writes the client's row: WatermelonDB's answer to the error is to pull and push again.
 * Rows of another tenant come back in `experimentalRejectedIds`. An unknown table or column, or an
 * id a numeric key cannot hold, is 400 naming it. The client is named by the `x-sync-client`
 * header or `?clientId=` (default the token's subject: name each device, so that one device's
 * pushes are conflicts for another's); the mutation id is derived from `lastPulledAt` and the
 * changes, so the same push sent twice is applied once.
 *
 * Raw records carry the client's column names (default the database's) and raw values: ids and
 * foreign keys as text, JSON columns as JSON text. Both routes need the rights of `POST /pull` and
 * `POST /push` and take `tenant` as they do (see `syncScope`).
 *
 * @example
 * ```ts
 * const handler = createHttpHandler({ prefix: '/sync', auth: jwtAuth({ ... }), routes: watermelonRoutes(orm, { models: ['Task'], tables: { Task: { table: 'tasks' } } }) });
 * // in the app: synchronize({ database, sendCreatedAsUpdated: true,
 * //   pullChanges: async ({ lastPulledAt }) => (await fetch(`/sync/watermelon/pull?lastPulledAt=${lastPulledAt}`, { headers })).json(),
 * //   pushChanges: async ({ changes, lastPulledAt }) => { await fetch(`/sync/watermelon/push?lastPulledAt=${lastPulledAt}`, { method: 'POST', headers, body: JSON.stringify({ changes }) }); } })
 * ```
 */
export function watermelonRoutes(orm: MikroORM, options: WatermelonRoutesOptions = {}): HttpRoutes {
  const max = options.maxPullChanges ?? DEFAULT_MAX_PULL_CHANGES;
  if (!Number.isSafeInteger(max) || max < 1) throw OptionError.invalid('watermelonRoutes', 'maxPullChanges', max, 'a whole number above 0');
  const tables = watermelonTables(orm, options.models, options.tables);
  const names = [...tables.keys()];
  const known = `tables this server syncs (${names.join(', ')})`;

  const tablesField = z.preprocess((value) => typeof value === 'string' ? value.split(',') : value,
    z.array(z.string()).min(1).optional().superRefine((asked, context) => {
      const unknown = (asked ?? []).filter((name) => !tables.has(name));
      if (unknown.length) context.addIssue({ code: 'custom', message: `${unknown.join(', ')} ${unknown.length === 1 ? 'is not one of the' : 'are not'} ${known}` });
    }));
  const migrationField = z.object({
    from: z.number().optional(), tables: z.array(z.string()).optional(), columns: z.array(z.object({ table: z.string(), columns: z.array(z.string()) })).optional(),
  }).nullable().optional();
  const pullQuery = z.object({ lastPulledAt: lastPulledAtField, tables: tablesField, tenant: tenantField, schemaVersion: z.string().optional() });
  const pullBody = z.object({ lastPulledAt: lastPulledAtField, tables: tablesField, tenant: tenantField, schemaVersion: z.number().optional(), migration: migrationField });
  const rawRecord = z.looseObject({ id: z.string().min(1).max(200) });
  const pushQuery = z.object({ lastPulledAt: lastPulledAtField, tenant: tenantField, clientId: z.string().min(1).max(200).optional() });
  const pushBody = z.object({
    lastPulledAt: lastPulledAtField,
    tenant: tenantField,
    changes: z.record(z.string(), z.object({
      created: z.array(rawRecord).default([]), updated: z.array(rawRecord).default([]), deleted: z.array(z.string().min(1).max(200)).default([]),
    })),
  }).superRefine((body, context) => {
    for (const [name, changes] of Object.entries(body.changes)) {
      const table = tables.get(name);
      if (!table) {
        context.addIssue({ code: 'custom', path: ['changes', name], message: `${name} is not one of the ${known}` });
        continue;
      }
      for (const list of ['created', 'updated'] as const) {
        changes[list].forEach((raw, index) => {
          const path = ['changes', name, list, index];
          for (const problem of fromRaw(table, raw).problems) context.addIssue({ code: 'custom', path, message: problem });
          if (fromRawId(table, raw.id) === undefined) context.addIssue({ code: 'custom', path: [...path, 'id'], message: `an id of ${name} is a whole number written as text` });
        });
      }
      changes.deleted.forEach((id, index) => {
        if (fromRawId(table, id) === undefined) context.addIssue({ code: 'custom', path: ['changes', name, 'deleted', index], message: `an id of ${name} is a whole number written as text` });
      });
    }
  });

  const pull = async (asked: { lastPulledAt?: number | null; tables?: string[]; tenant?: string; migration?: z.infer<typeof migrationField> },
    request: Request, principal: Principal | null, signal: AbortSignal, report: (facts: SyncFacts) => void): Promise<Response> => {
    const wanted = (asked.tables ?? names).map((name) => tables.get(name)!);
    report({ tenant: asked.tenant, client: clientIdOf(request, {}, principal), models: wanted.map((table) => table.model) });
    const scope = syncScope(principal, asked.tenant, options);
    const checkpoint = checkpointOf(asked.lastPulledAt);
    const fresh = checkpoint ? migratedTables(asked.migration) : new Set<string>();
    const groups = [[checkpoint, wanted.filter((table) => !fresh.has(table.table))], [null, wanted.filter((table) => fresh.has(table.table))]] as const;
    const answer: WatermelonPull = { changes: {}, timestamp: 0, hasMore: false };
    for (const [from, group] of groups) {
      if (!group.length) continue;
      const { rows, timestamp, hasMore } = await pullTables(orm, group, from, scope, options.models, max, signal);
      // two groups end at two horizons: the earlier one is true of both
      answer.timestamp = answer.timestamp ? Math.min(answer.timestamp, timestamp) : timestamp;
      answer.hasMore ||= hasMore;
      for (const [table, held] of rows) {
        const updated = [...held.values()].filter((raw): raw is Record<string, unknown> => raw !== null);
        answer.changes[table] = { created: [], updated, deleted: [...held].filter(([, raw]) => raw === null).map(([id]) => id) };
      }
    }
    if (!answer.timestamp) answer.timestamp = (await pullTables(orm, [], checkpoint, scope, options.models, max, signal)).timestamp;
    if (principal) {
      await recordSyncState(orm.em.fork(), { user: principal.subject, client: clientIdOf(request, {}, principal), models: wanted.map((table) => table.model), checkpoint: `1.${answer.timestamp}` });
    }
    report({ rowsOut: Object.values(answer.changes).reduce((sum, table) => sum + table.updated.length + table.deleted.length, 0) });
    return Response.json(answer);
  };

  return (route) => {
    const observePull = syncObserver(orm, 'watermelon-pull', options);
    route.get('/watermelon/pull', { right: options.pullRight ?? PUSH_PULL_PULL_RIGHT, query: pullQuery, observe: observePull },
      ({ request, query, principal, signal, report }) => pull(query, request, principal, signal, report));
    route.post('/watermelon/pull', { right: options.pullRight ?? PUSH_PULL_PULL_RIGHT, body: pullBody, observe: observePull },
      ({ request, body, principal, signal, report }) => pull(body, request, principal, signal, report));
    route.post('/watermelon/push', { right: options.pushRight ?? PUSH_PULL_PUSH_RIGHT, query: pushQuery, body: pushBody, observe: syncObserver(orm, 'watermelon-push', options) },
      async ({ request, query, body, principal, signal, report }) => {
        const lastPulledAt = body.lastPulledAt ?? query.lastPulledAt;
        const changes: PushChange[] = Object.entries(body.changes).flatMap(([name, lists]) => {
          const table = tables.get(name)!;
          return [
            ...[...lists.created, ...lists.updated].map((raw) => ({ model: table.model, id: fromRawId(table, raw.id)!, doc: fromRaw(table, raw).doc })),
            ...lists.deleted.map((id) => ({ model: table.model, id: fromRawId(table, id)!, deleted: true })),
          ];
        });
        report({ tenant: body.tenant ?? query.tenant, client: clientIdOf(request, query, principal), models: changes.map((change) => change.model), rowsIn: changes.length } satisfies SyncFacts);
        const digest = createHash('sha256').update(JSON.stringify(body.changes)).digest('hex').slice(0, 40);
        const { results } = await pushChanges(orm.em.fork(), {
          clientId: clientIdOf(request, query, principal), mutationId: `watermelon.${lastPulledAt ?? 0}.${digest}`, checkpoint: checkpointOf(lastPulledAt),
          changes, served: options.models, conflicts: options.conflicts, abortOnConflict: true, ...syncScope(principal, body.tenant ?? query.tenant, options), signal,
          ...(principal ? { record: { user: principal.subject } } : {}),
        });
        const refused = results.filter((result) => result.status === 'refused');
        report({ refused: refused.length } satisfies SyncFacts);
        if (!refused.length) return Response.json({});
        const rejected: Record<string, string[]> = {};
        for (const result of refused) {
          const table = [...tables.values()].find((candidate) => candidate.model === result.model)!;
          (rejected[table.table] ??= []).push(String(result.id));
        }
        return Response.json({ experimentalRejectedIds: rejected });
      });
  };
}
