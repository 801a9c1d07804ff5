import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/core';
import { z } from 'zod';
import { PushPullError } from '@entity-sync/core';
import type { HttpRoutes, Principal } from '../../http/index.js';
import { EntitySync } from '../extension/entity-sync.js';
import { ChangeNotifier } from './change-notifier.js';
import { pullChanges } from './pull-changes.js';
import { changeStream, heartbeatOf, liveStreamQuery, tokenQueryOf, type LiveStreamRoutes } from './pull-stream.js';
import { pushChanges, type PushChange, type PushConflictPolicy } from './push-changes.js';
import { syncObserver, type SyncFacts, type SyncObserveOptions } from './sync-log/sync-observer.js';
import { isIntegerType, serverKey } from './client-ids.js';
import { PUSH_PULL_PULL_RIGHT, PUSH_PULL_PUSH_RIGHT, syncScope } from './push-pull-http.js';

/** Options of `rxdbRoutes`. */
export interface RxdbRoutesOptions extends SyncObserveOptions {
  /** The models the API serves (entity names); default every `@SyncModel`. */
  models?: string[];
  /** Users' tokens get the permissions and row filters of their roles, as with `pushPullRoutes({ permissions })`. */
  permissions?: boolean;
  /** The right pulls and the stream need (default `push-pull:pull`). */
  pullRight?: string;
  /** The right pushes need (default `push-pull:push`). */
  pushRight?: string;
  /** Per model, how push conflicts are resolved (default `server-wins`), as for `pushPullRoutes`. */
  conflicts?: Record<string, PushConflictPolicy>;
  /** Milliseconds between the stream's keep-alive comment lines (default 15 000). */
  heartbeatMs?: number;
  /** The query parameter the stream may take the token from (default `access_token`; false: the header only). */
  tokenQuery?: string | false;
}

/** An RxDB document as it travels: the model's properties, the key as a string, and `_deleted`. */
export type RxdbDocument = Record<string, unknown> & { _deleted: boolean };

/** The checkpoint RxDB keeps for a collection: always this one key, never null. */
export interface RxdbCheckpoint {
  checkpoint: string;
}

const params = z.object({ model: z.string().regex(/^[A-Za-z_$][\w$]*$/, 'an entity name') });
const tenantQuery = z.object({ tenant: z.string().min(1).max(200).optional() });
const pullBody = z.object({
  checkpoint: z.object({ checkpoint: z.string().max(8100) }).nullable().optional(),
  batchSize: z.number().int().min(1).max(10_000),
});
const rxDoc = z.record(z.string(), z.unknown());
const pushBody = z.array(z.object({ assumedMasterState: rxDoc.nullable().optional(), newDocumentState: rxDoc })).max(1000);

// what RxDB keeps on a document that the server's rows do not have
const RXDB_FIELDS = ['_deleted', '_meta', '_rev', '_attachments'];

/** The key of a served model: its property, and how a key RxDB holds as a string is read back. */
function keyOf(orm: MikroORM, model: string, served: string[] | undefined): { property: string; parse(value: unknown): string | number | undefined } {
  const sync = EntitySync.of(orm);
  const names = served ?? sync.syncModelNames();
  if (!names.includes(model)) throw PushPullError.modelNotServed([model], names);
  const node = sync.graph.node(model);
  const property = node.primaryKeyProperties[0]!;
  const integer = isIntegerType(node.columns.find((column) => column.primary)?.type);
  return { property, parse: (value) => serverKey(value, integer) };
}

const withoutRxdbFields = (doc: Record<string, unknown>) => Object.fromEntries(Object.entries(doc).filter(([field]) => !RXDB_FIELDS.includes(field)));

/** A server document as RxDB takes it: the key as a string, `_deleted: false`; a deleted row is the key alone, `_deleted: true`. */
const toRxdb = (key: string, doc: Record<string, unknown> | null, id: unknown): RxdbDocument =>
  doc ? { ...doc, [key]: String(doc[key]), _deleted: false } : { [key]: String(id), _deleted: true };

/** Whether the server's row is already what the client pushes (a resent push that went through the first time). */
function alreadyThere(server: Record<string, unknown> | null | undefined, change: PushChange): boolean {
  if (change.deleted || !server) return !!change.deleted && !server;
  return Object.entries(server).every(([field, value]) => JSON.stringify(value ?? null) === JSON.stringify(change.doc![field] ?? null));
}

/** RxDB's push rows as `pushChanges` changes: the key parsed back, RxDB's own fields taken off, the assumed master state (a tombstone: none). */
function changesOf(model: string, key: ReturnType<typeof keyOf>, rows: z.infer<typeof pushBody>): PushChange[] {
  return rows.map((row, index) => {
    const id = key.parse(row.newDocumentState[key.property]);
    if (id === undefined) throw PushPullError.changeInvalid(index, model, `its ${key.property} is missing or not a key of this model`);
    const assumed = row.assumedMasterState && !row.assumedMasterState._deleted ? { ...withoutRxdbFields(row.assumedMasterState), [key.property]: id } : null;
    if (row.newDocumentState._deleted) return { model, id, deleted: true, assumed };
    return { model, id, doc: { ...withoutRxdbFields(row.newDocumentState), [key.property]: id }, assumed };
  });
}

/**
 * The push/pull sync API in RxDB's replication protocol, for `replicateRxCollection` (the client
 * side is `rxdbReplicationHandlers` of `@entity-sync/adapters/rxdb`), one collection per model:
 *
 * - `POST <prefix>/rxdb/:model/pull` with `{ checkpoint: { checkpoint } | null, batchSize }` answers
 *   `{ documents, checkpoint: { checkpoint } }`: `pullChanges` of that model, a full page whenever
 *   more changes wait (a change is one document, so `limit: batchSize` gives a full page; RxDB
 *   stops at a short one), the checkpoint always given.
 * - `POST <prefix>/rxdb/:model/push` with RxDB's rows `[{ assumedMasterState?, newDocumentState }]`
 *   answers the server's documents of the conflicting rows (`[]` for none): a row whose server
 *   state differs from what the client assumed is a conflict, resolved by the model's policy
 *   (`server-wins` by default: the server's document goes back and RxDB's conflict handler takes
 *   it; `client-wins`: the client's row is written and nothing goes back).
 * - `GET <prefix>/rxdb/:model/pull/stream`: server-sent `resync` events for `pull.stream$` (at
 *   connect, after a commit of the model, after the server's LISTEN was lost): RxDB then pulls
 *   with its checkpoint. Documents are never sent in the stream: their checkpoint would replace the
 *   client's, and only a pull's checkpoint is safe from skipping late commits.
 *
 * All take `?tenant=` (the same rules as `POST /pull`). The RxDB schema must match the model: its
 * properties exactly the ones the model syncs (a foreign key as the id it holds), nullable columns
 * typed with `'null'` too, the primary key a string (numeric keys travel as strings and are read
 * back), and no property but the key `required`: a deleted row comes as a tombstone with the key
 * alone, which the schema validation must accept.
 *
 * Pushes carry no mutation id in RxDB's protocol: each gets a fresh one, so a push is not
 * deduplicated by id. RxDB resends a push whose answer it did not get; the resent rows then meet
 * a server row already equal to what they carry, which is not answered as a conflict (with
 * `client-wins` the same values are written again: a new version, the same row).
 *
 * @example
 * ```ts
 * const rxdb = rxdbRoutes(orm, { models: ['Todo'], conflicts: { Todo: 'client-wins' } });
 * const handler = createHttpHandler({ prefix: '/sync', auth: jwtAuth({ ... }), routes: rxdb });
 * // at shutdown: await rxdb.close();
 * ```
 */
export function rxdbRoutes(orm: MikroORM, options: RxdbRoutesOptions = {}): LiveStreamRoutes {
  const heartbeatMs = heartbeatOf('rxdbRoutes', options.heartbeatMs);
  // the client's own id (header x-sync-client), or one per user
  const clientIdOf = (request: Request, principal: Principal | null) => request.headers.get('x-sync-client') ?? `rxdb:${principal?.subject ?? 'anonymous'}`;
  const record = (request: Request, principal: Principal | null) => (principal ? { record: { user: principal.subject, client: clientIdOf(request, principal) } } : {});
  const routes: HttpRoutes = (route) => {
    route.post('/rxdb/:model/pull', { right: options.pullRight ?? PUSH_PULL_PULL_RIGHT, params, query: tenantQuery, body: pullBody, observe: syncObserver(orm, 'rxdb-pull', options) },
      async ({ request, params: { model }, query, body, principal, signal, report }) => {
        report({ tenant: query.tenant, client: clientIdOf(request, principal), models: [model] } satisfies SyncFacts);
        const key = keyOf(orm, model, options.models);
        const pulled = await pullChanges(orm.em.fork(), {
          models: [model], checkpoint: body.checkpoint?.checkpoint ?? null, limit: body.batchSize, served: options.models, ...syncScope(principal, query.tenant, options), signal,
          ...record(request, principal),
        });
        const documents = pulled.changes.flatMap((change) => [
          ...change.upserted.map((doc) => toRxdb(key.property, doc, undefined)),
          ...change.deleted.map((id) => toRxdb(key.property, null, id)),
        ]);
        report({ rowsOut: documents.length } satisfies SyncFacts);
        return Response.json({ documents, checkpoint: { checkpoint: pulled.checkpoint } satisfies RxdbCheckpoint });
      });
    route.post('/rxdb/:model/push', { right: options.pushRight ?? PUSH_PULL_PUSH_RIGHT, params, query: tenantQuery, body: pushBody, observe: syncObserver(orm, 'rxdb-push', options) },
      async ({ request, params: { model }, query, body, principal, signal, report }) => {
        report({ tenant: query.tenant, client: clientIdOf(request, principal), models: [model] } satisfies SyncFacts);
        const key = keyOf(orm, model, options.models);
        const changes = changesOf(model, key, body);
        report({ rowsIn: changes.length } satisfies SyncFacts);
        const { results } = await pushChanges(orm.em.fork(), {
          clientId: clientIdOf(request, principal), mutationId: randomUUID(), changes, served: options.models, conflicts: options.conflicts,
          ...syncScope(principal, query.tenant, options), signal, ...(principal ? { record: { user: principal.subject } } : {}),
        });
        // one model: the results come in the order of the changes
        const conflicts = results.flatMap((result, index) => {
          // a row of another tenant: for this client there is none
          if (result.status === 'refused') return [toRxdb(key.property, null, result.id)];
          if (result.status !== 'conflict' || result.resolution === 'client' || alreadyThere(result.server, changes[index]!)) return [];
          return [toRxdb(key.property, result.server ?? null, result.id)];
        });
        report({ rowsOut: conflicts.length, conflicts: results.filter((result) => result.status === 'conflict').length,
          refused: results.filter((result) => result.status === 'refused').length } satisfies SyncFacts);
        return Response.json(conflicts);
      });
    route.get('/rxdb/:model/pull/stream', { right: options.pullRight ?? PUSH_PULL_PULL_RIGHT, params, query: liveStreamQuery, tokenQuery: tokenQueryOf(options.tokenQuery) },
      ({ params: { model }, query, principal, signal }) => changeStream(orm, {
        models: [model], ...syncScope(principal, query.tenant, options), served: options.models, heartbeatMs, changesAs: 'resync', signal,
      }));
  };
  return Object.assign(routes, { close: () => ChangeNotifier.close(orm) });
}
