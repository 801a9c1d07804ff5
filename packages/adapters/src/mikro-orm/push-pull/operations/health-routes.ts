import { OptionError, type FileStorage } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import type { HttpRoutes } from '../../../http/index.js';
import type { MetricsQueue } from './sync-metrics.js';

/** A part `GET /health` checks: resolves when it works, rejects (or takes longer than the timeout) when it does not. */
export type HealthCheck = (signal: AbortSignal) => Promise<unknown>;

/** Options of `healthRoutes`. */
export interface HealthRoutesOptions {
  /** The file storage to check (a read that finds nothing). */
  storage?: FileStorage;
  /** The transport to check, through one of its queues (its depth is read). */
  transport?: MetricsQueue;
  /** Checks of the app's own parts, by name. */
  checks?: Record<string, HealthCheck>;
  /** How long a check may take before it counts as failing (default 2,000 ms). */
  timeoutMs?: number;
  /** The right `GET /health` needs; default none: served without credentials, for load balancers. */
  right?: string;
}

/** The outcome of one part's check. */
export interface HealthPart {
  ok: boolean;
  ms: number;
  /** Why it failed. */
  error?: string;
}

async function checked(check: HealthCheck, timeoutMs: number): Promise<HealthPart> {
  const started = performance.now();
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([check(abort.signal), timeout]);
    return { ok: true, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return { ok: false, ms: Math.round(performance.now() - started), error: (error as Error)?.message ?? String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET <prefix>/health`: checks the database (and the file storage, the transport and the app's
 * own checks when given), each with a timeout, at once; 200 `{ status: 'ok', parts }` when all
 * pass, 503 `{ status: 'failing', failing: [names], parts }` naming those that do not.
 *
 * @example
 * ```ts
 * createHttpHandler({ prefix: '/sync', auth, routes: [pushPullRoutes(orm), healthRoutes(orm, { storage })] });
 * ```
 */
export function healthRoutes(orm: MikroORM, options: HealthRoutesOptions = {}): HttpRoutes {
  const health = healthChecks(orm, options);
  return (route) => {
    route.get('/health', options.right ? { right: options.right } : { public: true }, async () => {
      const { failing, parts } = await health();
      return Response.json(failing.length ? { status: 'failing', failing, parts } : { status: 'ok', parts },
        { status: failing.length ? 503 : 200, headers: { 'cache-control': 'no-store' } });
    });
  };
}

/** The checks `healthRoutes` runs, as a function that runs them all at once: each part's outcome, and the names of those failing. */
export function healthChecks(orm: MikroORM, options: HealthRoutesOptions = {}): () => Promise<{ failing: string[]; parts: Record<string, HealthPart> }> {
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw OptionError.invalid('healthRoutes', 'timeoutMs', options.timeoutMs, 'a whole number of milliseconds, 1 or more');
  const checks: Record<string, HealthCheck> = { database: () => orm.em.fork().getConnection().execute('SELECT 1') };
  if (options.storage) checks.storage = () => options.storage!.has('0'.repeat(64));
  if (options.transport?.transport.pending) checks.transport = () => options.transport!.transport.pending!(options.transport!.queue);
  for (const [name, check] of Object.entries(options.checks ?? {})) {
    if (typeof check !== 'function') throw OptionError.invalid('healthRoutes', `checks.${name}`, check, 'a function (signal) => Promise');
    checks[name] = check;
  }
  return async () => {
    const names = Object.keys(checks);
    const results = await Promise.all(names.map((name) => checked(checks[name]!, timeoutMs)));
    return { failing: names.filter((_, i) => !results[i]!.ok), parts: Object.fromEntries(names.map((name, i) => [name, results[i]!])) };
  };
}
