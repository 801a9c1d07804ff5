import type { MikroORM } from '@mikro-orm/core';
import { z } from 'zod';
import { OptionError, PushPullError } from '@entity-sync/core';
import type { HttpRoutes } from '../../http/index.js';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { SqlSession } from '../../internal/pg/sql-session.js';
import type { SyncAccess } from './access.js';
import { ChangeNotifier } from './change-notifier.js';
import { RequestAccess } from './permissions.js';
import { PUSH_PULL_PULL_RIGHT, syncScope } from './push-pull-http.js';

/** Options of `pullStreamRoutes`. */
export interface PullStreamRoutesOptions {
  /** The models the API serves (entity names); default every `@SyncModel`. */
  models?: string[];
  /** The right the stream needs (default `push-pull:pull`). */
  pullRight?: string;
  /** Milliseconds between the comment lines that keep proxies from closing an idle stream (default 15 000). */
  heartbeatMs?: number;
  /** The query parameter that may carry the token, for a browser's EventSource, which cannot send headers (default `access_token`; false: the header only). */
  tokenQuery?: string | false;
  /**
   * Apply the roles' permissions (`grantPermissions`), as `pushPullRoutes`'s `permissions` does: a
   * stream watches only the models the user may pull, read when it connects; asking for a denied
   * one is 403 `PUSH_PULL_FORBIDDEN`.
   */
  permissions?: boolean;
}

/** Routes that hold live streams open, and how to end them (at shutdown, before `orm.close()` and the server's close). */
export type LiveStreamRoutes = HttpRoutes & {
  /** Ends every live stream of the ORM (of these routes and of any other on the same ORM) and its LISTEN. */
  close(): Promise<void>;
};

/** What one stream tells its client, and for what. */
export interface ChangeStreamOptions {
  /** The models the client asks for (default every served one). */
  models?: string[];
  served?: string[];
  /** The tenant the client syncs (from `syncScope`). */
  tenant?: string;
  /** The user and roles whose pull permissions decide the models watched (from `syncScope`); none: every served model. */
  access?: SyncAccess;
  heartbeatMs: number;
  /** `change`: changes are `event: change` with the models; `resync`: every event is `event: resync` (RxDB, which only ever pulls). */
  changesAs: 'change' | 'resync';
  signal: AbortSignal;
}

const DEFAULT_HEARTBEAT_MS = 15_000;
const entityName = z.string().regex(/^[A-Za-z_$][\w$]*$/, 'an entity name');
/** The query a live stream takes: `models` (comma-separated or repeated) and `tenant`. */
export const liveStreamQuery = z.object({
  // models=A,B or models=A&models=B
  models: z.union([z.string(), z.array(z.string())]).optional()
    .transform((value) => value === undefined ? undefined : [value].flat().flatMap((item) => item.split(',')).filter(Boolean))
    .pipe(z.array(entityName).min(1).optional()),
  tenant: z.string().min(1).max(200).optional(),
});

/** The models a stream watches: the asked ones, which must be served, and a tenant for those that have tenants. */
function watchedModels(orm: MikroORM, options: ChangeStreamOptions): string[] {
  const sync = EntitySync.of(orm);
  const served = options.served ?? sync.syncModelNames();
  const models = options.models ?? served;
  const unknown = models.filter((name) => !served.includes(name));
  if (unknown.length) throw PushPullError.modelNotServed(unknown, served);
  const tenanted = models.filter((name) => sync.registryEntry(name)?.syncModel?.tenant);
  if (tenanted.length && options.tenant === undefined) throw PushPullError.tenantRequired(tenanted);
  return models;
}

/**
 * A server-sent-events response that tells one client when to pull: `event: resync` at once
 * (a client that reconnects catches up) and whenever notifications may have been lost, `event:
 * change` with `{"models": [...]}` when watched models changed for the client's tenant (or for
 * every tenant, a shared model), changes close together merged into one event, and a comment line
 * every `heartbeatMs`. A client that reads slowly gets its pending events merged, not queued. The
 * client's going away (`signal`, or the body cancelled) ends its subscription at once.
 */
export async function changeStream(orm: MikroORM, options: ChangeStreamOptions): Promise<Response> {
  let watched = watchedModels(orm, options);
  if (options.access) {
    const access = options.access;
    // read at connect, in a transaction of its own: a model named but denied is refused, an unnamed one left out
    watched = await inTransaction(orm.em.fork(), async (tx) => (await RequestAccess.load(await SqlSession.open(tx), defaultSchemaOf(tx), access, options.tenant))
      .pullable(watched.map((name) => ({ name })), options.models !== undefined).allowed.map((model) => model.name));
  }
  const models = new Set(watched);
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let ended = false;
  let resync = true;
  const pending = new Set<string>();
  let scheduled: NodeJS.Timeout | undefined;
  let unsubscribe = () => {};

  const ready = () => !ended && (controller.desiredSize ?? 1) > 0;
  // one event per write: a resync covers every change pending with it; a reader that is behind gets them merged on its next read
  const flush = () => {
    if (!ready()) return;
    if (resync) {
      resync = false;
      pending.clear();
      controller.enqueue(encoder.encode('event: resync\ndata: {}\n\n'));
    } else if (pending.size) {
      const data = JSON.stringify({ models: [...pending] });
      pending.clear();
      controller.enqueue(encoder.encode(`event: ${options.changesAs}\ndata: ${data}\n\n`));
    }
  };
  const schedule = () => {
    // notifications of one commit arrive one by one: they are gathered into one event
    scheduled ??= setTimeout(() => {
      scheduled = undefined;
      flush();
    }, 5);
  };
  const heartbeat = setInterval(() => {
    if (ready()) controller.enqueue(encoder.encode(': heartbeat\n\n'));
  }, options.heartbeatMs);
  const end = (closeBody: boolean) => {
    if (ended) return;
    ended = true;
    clearInterval(heartbeat);
    clearTimeout(scheduled);
    unsubscribe();
    if (closeBody) controller.close();
  };

  const body = new ReadableStream<Uint8Array>({
    start(given) {
      controller = given;
    },
    pull: flush,
    cancel: () => end(false),
  }, { highWaterMark: 1 });
  try {
    unsubscribe = await ChangeNotifier.of(orm).subscribe((event) => {
      if (event.type === 'closed') return end(true);
      if (event.type === 'resync') resync = true;
      else if (models.has(event.model) && (event.tenant === '' || event.tenant === options.tenant)) pending.add(event.model);
      else return;
      schedule();
    });
  } catch (error) {
    end(false);
    throw error;
  }
  if (options.signal.aborted) end(false);
  else options.signal.addEventListener('abort', () => end(true), { once: true });
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' },
  });
}

/** The heartbeat option, checked. */
export function heartbeatOf(fn: string, heartbeatMs: number | undefined): number {
  const value = heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  if (!Number.isInteger(value) || value < 10) throw OptionError.invalidArgument(fn, 'heartbeatMs', value, 'a whole number of milliseconds, at least 10');
  return value;
}

/** The query parameter a live stream takes its token from. */
export const tokenQueryOf = (tokenQuery: string | false | undefined) => tokenQuery === false ? undefined : tokenQuery ?? 'access_token';

/**
 * The live stream of the push/pull sync API as routes of the HTTP layer: `GET <prefix>/pull/stream`
 * (right `push-pull:pull`) answers server-sent events that tell the client when to `POST /pull`:
 * `resync` at connect and after the server's LISTEN connection was lost (pull at once), `change`
 * with `{"models": [...]}` when models it watches changed for its tenant, and a comment line
 * every 15 s. Query: `models` (default every served one) and `tenant` (the same rules as `POST
 * /pull`); the token may come as `access_token` in the query, since a browser's EventSource
 * cannot send an Authorization header. The stream carries no rows: it only says when a pull has
 * something, and the pull's checkpoint keeps its never-skip guarantee. One LISTEN per ORM serves
 * every stream; `close()` ends them all (before `orm.close()`).
 *
 * @example
 * ```ts
 * const live = pullStreamRoutes(orm, { models: ['Todo'] });
 * const handler = createHttpHandler({ prefix: '/sync', auth, routes: [pushPullRoutes(orm, { models: ['Todo'] }), live] });
 * // in the browser: new EventSource(`/sync/pull/stream?access_token=${token}`).addEventListener('change', pull);
 * process.on('SIGTERM', async () => { await live.close(); server.close(); await orm.close(); });
 * ```
 */
export function pullStreamRoutes(orm: MikroORM, options: PullStreamRoutesOptions = {}): LiveStreamRoutes {
  const heartbeatMs = heartbeatOf('pullStreamRoutes', options.heartbeatMs);
  const routes: HttpRoutes = (route) => {
    route.get('/pull/stream', { right: options.pullRight ?? PUSH_PULL_PULL_RIGHT, query: liveStreamQuery, tokenQuery: tokenQueryOf(options.tokenQuery) },
      ({ query, principal, signal }) => changeStream(orm, {
        models: query.models, ...syncScope(principal, query.tenant, options), served: options.models, heartbeatMs, changesAs: 'change', signal,
      }));
  };
  return Object.assign(routes, { close: () => ChangeNotifier.close(orm) });
}
