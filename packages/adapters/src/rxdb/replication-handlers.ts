import { Observable } from 'rxjs';
import type { ReplicationPullHandler, ReplicationPushHandler, RxReplicationPullStreamItem } from 'rxdb';

/** The checkpoint the server hands RxDB (`rxdbRoutes`): always this one key. */
export interface RxdbServerCheckpoint {
  checkpoint: string;
}

/** What the helper needs of an EventSource: the browser's, or the `eventsource` package's in Node. */
export interface EventSourceLike {
  readonly readyState: number;
  onerror: ((event: unknown) => void) | null;
  addEventListener(type: string, listener: () => void): void;
  close(): void;
}

/** Options of `rxdbReplicationHandlers`. */
export interface RxdbReplicationHandlersOptions {
  /** The sync API's URL with its prefix (`https://api.example.com/sync`). */
  url: string;
  /** The model (entity name) the collection replicates. */
  model: string;
  /** The bearer token, or a function that returns a current one (asked before every request and every stream connect). */
  token?: string | (() => string | Promise<string>);
  /** The tenant to sync, for a user of several. */
  tenant?: string;
  /** The fetch to use (default `globalThis.fetch`). */
  fetch?: typeof fetch;
  /** The EventSource class for `pull.stream$` (default `globalThis.EventSource`; in Node 20 pass the `eventsource` package's). None: no stream (call `reSync()` yourself). */
  EventSource?: new (url: string) => EventSourceLike;
  /** Milliseconds before a stream the server closed (an expired token, a restart) is opened again (default 2000). */
  reconnectMs?: number;
}

/** The handlers `replicateRxCollection` takes: `pull: { ...handlers.pull, batchSize }`, `push: handlers.push`. */
export interface RxdbReplicationHandlers<Doc> {
  pull: { handler: ReplicationPullHandler<Doc, RxdbServerCheckpoint>; stream$?: Observable<RxReplicationPullStreamItem<Doc, RxdbServerCheckpoint>> };
  push: { handler: ReplicationPushHandler<Doc> };
}

// EventSource.CLOSED: the source gave up (a 401 on an expired token, say) and will not reconnect by itself
const CLOSED = 2;

/**
 * The pull and push handlers, and the live `stream$`, of an RxDB collection replicated with a
 * server's `rxdbRoutes`. The stream opens an EventSource on `GET /rxdb/:model/pull/stream` when
 * the replication subscribes to it (the token in the `access_token` query parameter, which a
 * browser's EventSource needs) and closes it when the replication is cancelled; every server event
 * is a `'RESYNC'`, after which RxDB pulls from its checkpoint. A source the server closed is
 * opened again after `reconnectMs`, with a fresh token; the server answers every connect with a
 * resync, so nothing committed meanwhile is missed. A failed request throws, and RxDB retries.
 *
 * @example
 * ```ts
 * import { rxdbReplicationHandlers } from '@entity-sync/adapters/rxdb';
 * const handlers = rxdbReplicationHandlers<Todo>({ url: 'https://api.example.com/sync', model: 'Todo', token: () => auth.token() });
 * const replication = replicateRxCollection({ collection: db.todos, replicationIdentifier: 'todos@api.example.com',
 *   pull: { ...handlers.pull, batchSize: 100 }, push: handlers.push });
 * ```
 */
export function rxdbReplicationHandlers<Doc>(options: RxdbReplicationHandlersOptions): RxdbReplicationHandlers<Doc> {
  const base = `${options.url.replace(/\/$/, '')}/rxdb/${encodeURIComponent(options.model)}`;
  const tenantQuery = options.tenant === undefined ? '' : `?tenant=${encodeURIComponent(options.tenant)}`;
  const tokenOf = async () => typeof options.token === 'function' ? options.token() : options.token;
  const post = async <T>(path: string, body: unknown): Promise<T> => {
    const token = await tokenOf();
    const response = await (options.fetch ?? fetch)(`${base}${path}${tenantQuery}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    if (!response.ok) throw new Error(`POST ${base}${path} answered ${response.status}: ${await response.text()}`);
    return await response.json() as T;
  };
  const EventSourceClass = options.EventSource ?? (globalThis as { EventSource?: new (url: string) => EventSourceLike }).EventSource;
  const stream$ = EventSourceClass && new Observable<RxReplicationPullStreamItem<Doc, RxdbServerCheckpoint>>((subscriber) => {
    let source: EventSourceLike | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const reopen = () => {
      retry = setTimeout(open, options.reconnectMs ?? 2000);
    };
    const open = () => {
      tokenOf().then((token) => {
        if (stopped) return;
        const url = new URL(`${base}/pull/stream`);
        if (options.tenant !== undefined) url.searchParams.set('tenant', options.tenant);
        if (token) url.searchParams.set('access_token', token);
        const opened = source = new EventSourceClass(url.toString());
        opened.addEventListener('resync', () => subscriber.next('RESYNC'));
        opened.onerror = () => {
          if (opened.readyState !== CLOSED || stopped) return;
          opened.close();
          reopen();
        };
      }, reopen);
    };
    open();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
    };
  });
  return {
    pull: {
      handler: (checkpoint, batchSize) => post('/pull', { checkpoint: checkpoint ?? null, batchSize }),
      ...(stream$ ? { stream$ } : {}),
    },
    push: { handler: (rows) => post('/push', rows) },
  };
}
