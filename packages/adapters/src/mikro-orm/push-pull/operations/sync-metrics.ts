import { OptionError } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import type { Registry } from 'prom-client';
import type { HttpRoutes } from '../../../http/index.js';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { SYNC_STATE_TABLE } from '../sync-state.js';
import type { SyncLogRecord } from '../sync-log/sync-log.js';

/** A transport's queue whose depth and dead letters the metrics show (any transport with the admin methods `pending` / `deadLetters`). */
export interface MetricsQueue {
  transport: { pending?(queue: string): Promise<number>; deadLetters?(queue: string): Promise<unknown[]> };
  queue: string;
}

/** Options of `createSyncMetrics`. */
export interface SyncMetricsOptions {
  /** The registry to add the metrics to (default a new one). */
  registry?: Registry;
  /** Also Node's own metrics (prom-client's default metrics: CPU, memory, event loop); default false. */
  processMetrics?: boolean;
  /** Queues of CQRS replication whose depth and dead letters to show. */
  queues?: MetricsQueue[];
  /** The clients whose checkpoint lag is shown, the furthest behind first (default 200). */
  lagClients?: number;
}

/** The sync API's metrics: give `record` to the routes (`onRequest`), serve `metricsRoutes`. */
export interface SyncMetrics {
  readonly registry: Registry;
  /** Counts one request (what the routes' `onRequest` takes). */
  record(request: SyncLogRecord): void;
  /** The metrics in the Prometheus text format. */
  text(): Promise<string>;
  /** The text format's content type. */
  readonly contentType: string;
}

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The sync API's metrics in a prom-client registry: requests by endpoint and status, rows in and
 * out, latency histograms, conflicts, refusals and errors, counted as requests are answered; and,
 * read from the database when scraped, each client's checkpoint lag, the CQRS outbox's depth and the
 * given queues' depth and dead letters.
 *
 * @example
 * ```ts
 * const metrics = await createSyncMetrics(orm);
 * const routes = [pushPullRoutes(orm, { onRequest: metrics.record }), metricsRoutes(metrics)];
 * ```
 */
export async function createSyncMetrics(orm: MikroORM, options: SyncMetricsOptions = {}): Promise<SyncMetrics> {
  const lagClients = options.lagClients ?? 200;
  if (!Number.isInteger(lagClients) || lagClients < 0) throw OptionError.invalid('createSyncMetrics', 'lagClients', options.lagClients, 'a whole number of 0 or more');
  const prom = await import('prom-client');
  const registry = options.registry ?? new prom.Registry();
  if (options.processMetrics) prom.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const requests = new prom.Counter({ name: 'entity_sync_requests_total', help: 'Requests of the sync API, by endpoint and status.', labelNames: ['endpoint', 'status'], registers });
  const rows = new prom.Counter({ name: 'entity_sync_rows_total', help: 'Rows clients sent (in) and were sent (out).', labelNames: ['endpoint', 'direction'], registers });
  const duration = new prom.Histogram({ name: 'entity_sync_request_duration_seconds', help: 'Time from a request to the end of its answer.', labelNames: ['endpoint'], buckets: DURATION_BUCKETS, registers });
  const conflicts = new prom.Counter({ name: 'entity_sync_conflicts_total', help: 'Pushed rows that were conflicts.', labelNames: ['endpoint'], registers });
  const refused = new prom.Counter({ name: 'entity_sync_refused_total', help: 'Pushed rows refused (outside the row filters, another tenant).', labelNames: ['endpoint'], registers });
  const errors = new prom.Counter({ name: 'entity_sync_errors_total', help: 'Failed requests, by error code.', labelNames: ['endpoint', 'code'], registers });
  const database = async <T>(work: (session: SqlSession, schema: string) => Promise<T>) =>
    inTransaction(orm.em.fork(), async (tx) => work(await SqlSession.open(tx), ident(defaultSchemaOf(tx))));
  new prom.Gauge({
    name: 'entity_sync_checkpoint_lag_seconds', help: 'Seconds since each client last pulled (its checkpoint\'s age), the furthest behind first.',
    labelNames: ['user', 'client'], registers,
    async collect() {
      this.reset();
      const lags = await database(async (session, schema) => (await session.tableExists(`${schema}.${SYNC_STATE_TABLE}`)) ? session.query<{ user_id: string; client_id: string; lag: number }>(
        `SELECT user_id, client_id, extract(epoch FROM clock_timestamp() - max(pulled_at))::float8 AS lag FROM ${schema}.${SYNC_STATE_TABLE} ` +
        `WHERE pulled_at IS NOT NULL GROUP BY user_id, client_id ORDER BY lag DESC LIMIT ${lagClients}`) : []);
      for (const lag of lags) this.set({ user: lag.user_id, client: lag.client_id }, Number(lag.lag));
    },
  });
  new prom.Gauge({
    name: 'entity_sync_outbox_depth', help: 'Changes in the CQRS outbox not yet relayed (0 without an outbox).', registers,
    async collect() {
      this.set(await database(async (session, schema) => (await session.tableExists(`${schema}.entity_sync_outbox`))
        ? Number((await session.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${schema}.entity_sync_outbox`))[0]!.n) : 0));
    },
  });
  const queues = options.queues ?? [];
  if (queues.some((queue) => queue.transport.pending)) {
    new prom.Gauge({
      name: 'entity_sync_queue_depth', help: 'Messages waiting in a CQRS queue.', labelNames: ['queue'], registers,
      async collect() {
        for (const { transport, queue } of queues) if (transport.pending) this.set({ queue }, await transport.pending(queue));
      },
    });
  }
  if (queues.some((queue) => queue.transport.deadLetters)) {
    new prom.Gauge({
      name: 'entity_sync_dead_letters', help: 'Messages in a CQRS queue\'s dead letters.', labelNames: ['queue'], registers,
      async collect() {
        for (const { transport, queue } of queues) if (transport.deadLetters) this.set({ queue }, (await transport.deadLetters(queue)).length);
      },
    });
  }
  return {
    registry,
    contentType: registry.contentType,
    record(request) {
      const endpoint = request.endpoint;
      requests.inc({ endpoint, status: String(request.status) });
      if (request.rowsIn) rows.inc({ endpoint, direction: 'in' }, request.rowsIn);
      if (request.rowsOut) rows.inc({ endpoint, direction: 'out' }, request.rowsOut);
      duration.observe({ endpoint }, request.durationMs / 1000);
      if (request.conflicts) conflicts.inc({ endpoint }, request.conflicts);
      if (request.refused) refused.inc({ endpoint }, request.refused);
      if (request.errorCode) errors.inc({ endpoint, code: request.errorCode });
    },
    text: () => registry.metrics(),
  };
}

/** Options of `metricsRoutes`. */
export interface MetricsRoutesOptions {
  /** The right `GET /metrics` needs (default `push-pull:metrics`); ignored with `public`. */
  right?: string;
  /** Served without credentials (a scraper inside the network); default false. */
  public?: boolean;
}

/**
 * `GET <prefix>/metrics`: the metrics in the Prometheus text format, for a scraper with a token
 * that has the `push-pull:metrics` right (or anyone, with `public`).
 *
 * @example
 * ```ts
 * createHttpHandler({ prefix: '/sync', auth, routes: [pushPullRoutes(orm, { onRequest: metrics.record }), metricsRoutes(metrics)] });
 * ```
 */
export function metricsRoutes(metrics: SyncMetrics, options: MetricsRoutesOptions = {}): HttpRoutes {
  return (route) => {
    route.get('/metrics', options.public ? { public: true } : { right: options.right ?? 'push-pull:metrics' },
      async () => new Response(await metrics.text(), { headers: { 'content-type': metrics.contentType, 'cache-control': 'no-store' } }));
  };
}
