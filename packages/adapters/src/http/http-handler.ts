import { HttpError, isEntitySyncError, OptionError } from '@entity-sync/core';
import { Hono } from 'hono';
import { authenticateRequest, hasRight, type Authorize, type HttpAuth, type Principal } from './auth/principal.js';
import { errorResponse, statusOfCode } from './error-response.js';
import { queryObject, validateWith } from './request-schema.js';
import { declareRoutes, type HttpRoutes, type RouteDeclaration, type RouteFacts, type RouteOutcome } from './routes.js';

/** Options of `createHttpHandler`. */
export interface HttpHandlerOptions {
  /** The path every route is served under (`'/entity-sync'`); default none. Bindings mount the handler there. */
  prefix?: string;
  /** How bearer tokens are authenticated: one auth or a list (the first that knows a token decides). */
  auth: HttpAuth | readonly HttpAuth[];
  /** The capabilities' routes. */
  routes: HttpRoutes | readonly HttpRoutes[];
  /** Decides whether a principal has the right a route needs (default: its rights list it, or are `'all'`). */
  authorize?: Authorize;
  /** Told of every failure that is not a typed error (it answers 500 with a generic message); default `console.error`. */
  onError?: (error: unknown, request: Request) => void;
}

/** A Fetch-API handler (`Request` in, `Response` out) that serves its routes under `prefix`. */
export interface HttpHandler {
  (request: Request): Promise<Response>;
  /** The path its routes are served under ('' for none): the bindings mount it there. */
  readonly prefix: string;
}

function normalizePrefix(prefix: unknown): string {
  if (prefix === undefined || prefix === '' || prefix === '/') return '';
  if (typeof prefix !== 'string' || !/^\/?[\w.~:@!$&'()*+,;=%-]+(\/[\w.~:@!$&'()*+,;=%-]+)*\/?$/.test(prefix)) {
    throw OptionError.invalid('createHttpHandler', 'prefix', prefix, "a URL path such as '/entity-sync'");
  }
  return `/${prefix.replace(/^\/|\/$/g, '')}`;
}

// Runs one route: authenticate, authorize, validate, then the capability's handler; any failure is error JSON.
async function serve(route: RouteDeclaration, label: string, request: Request, rawParams: Record<string, string>,
  auths: readonly HttpAuth[], authorize: Authorize, seen: Seen): Promise<Response> {
  const { options } = route;
  if (!options.public) {
    seen.principal = await authenticateRequest(request, auths, options.tokenQuery);
    if (options.right !== undefined && !(await authorize(seen.principal, options.right, request))) {
      throw HttpError.forbidden(label, seen.principal.subject, options.right);
    }
  }
  const url = new URL(request.url);
  const params = options.params ? await validateWith(options.params, rawParams, label, 'params') : rawParams;
  const query = options.query ? await validateWith(options.query, queryObject(url), label, 'query') : undefined;
  let body: unknown;
  if (options.body) {
    let json: unknown;
    try {
      json = JSON.parse(await request.text());
    } catch (error) {
      throw HttpError.bodyNotJson(label, error);
    }
    seen.body = json;
    body = seen.body = await validateWith(options.body, json, label, 'body');
  }
  const report = (facts: RouteFacts) => Object.assign(seen.facts, facts);
  return route.handler({ request, url, query, body, params, principal: seen.principal, signal: request.signal, report });
}

/** What `serve` learnt of a request, for the route's `observe`. */
interface Seen {
  principal: Principal | null;
  body?: unknown;
  facts: RouteFacts;
}

/** Runs `serve`, and tells the route's `observe` of the request once its answer is done (a stream: when `finished` settles). */
async function served(route: RouteDeclaration, label: string, request: Request, rawParams: Record<string, string>,
  auths: readonly HttpAuth[], authorize: Authorize, onError: (error: unknown, request: Request) => void): Promise<Response> {
  const observe = route.options.observe;
  if (!observe) return serve(route, label, request, rawParams, auths, authorize, { principal: null, facts: {} });
  const started = performance.now();
  const seen: Seen = { principal: null, facts: {} };
  const tell = (status: number, error?: unknown) => {
    const { finished, ...facts } = seen.facts;
    const outcome: RouteOutcome = {
      route: label, request, principal: seen.principal, ...(seen.body !== undefined ? { body: seen.body } : {}), status,
      ...(error !== undefined ? { errorCode: isEntitySyncError(error) ? error.code : 'INTERNAL_ERROR' } : {}), durationMs: performance.now() - started, facts,
    };
    // an observer's failure is the observer's: the answer stands
    Promise.resolve().then(() => observe(outcome)).catch((failure: unknown) => onError(failure, request));
  };
  let response: Response;
  try {
    response = await serve(route, label, request, rawParams, auths, authorize, seen);
  } catch (error) {
    tell(isEntitySyncError(error) ? statusOfCode(error.code) : 500, error);
    throw error;
  }
  const finished = seen.facts.finished;
  if (finished) finished.then(() => tell(response.status), (error: unknown) => tell(isEntitySyncError(error) ? statusOfCode(error.code) : 500, error));
  else tell(response.status);
  return response;
}

/**
 * Builds the Fetch-API handler that serves the given routes under `prefix`, with authentication,
 * authorization and validation done before a route's handler runs. Mount it with a binding
 * (`@entity-sync/adapters/http/node`, `/express`, `/fastify`) or call it from any server that speaks Fetch.
 *
 * @example
 * const handler = createHttpHandler({
 *   prefix: '/entity-sync',
 *   auth: jwtAuth({ jwks: 'https://issuer.example/.well-known/jwks.json', algorithms: ['RS256'], issuer: 'https://issuer.example/', audience: 'entity-sync' }),
 *   routes: [pingRoutes],
 * });
 * http.createServer(toNodeListener(handler)).listen(8080);
 */
export function createHttpHandler(options: HttpHandlerOptions): HttpHandler {
  const fn = 'createHttpHandler';
  const prefix = normalizePrefix(options?.prefix);
  const auths = options.auth === undefined ? [] : Array.isArray(options.auth) ? options.auth as readonly HttpAuth[] : [options.auth as HttpAuth];
  if (auths.length === 0 || auths.some((auth) => typeof auth?.authenticate !== 'function')) {
    throw OptionError.invalid(fn, 'auth', options.auth, 'an HttpAuth or a non-empty list of them (staticTokenAuth, jwtAuth or your own)');
  }
  const routeList = Array.isArray(options.routes) ? options.routes as readonly HttpRoutes[] : [options.routes as HttpRoutes];
  if (routeList.some((routes) => typeof routes !== 'function')) {
    throw OptionError.invalid(fn, 'routes', options.routes, 'a routes function (route) => { route.get(...) } or a list of them');
  }
  const authorize = options.authorize ?? hasRight;
  const onError = options.onError ?? ((error: unknown, request: Request) => console.error(`entity-sync HTTP: ${request.method} ${request.url} failed:`, error));

  const app = new Hono({ strict: false });
  const mounted = prefix ? app.basePath(prefix) : app;
  for (const route of declareRoutes(routeList)) {
    const label = `${route.method} ${prefix}${route.path}`;
    mounted.on(route.method, route.path, (c) => served(route, label, c.req.raw, c.req.param() as Record<string, string>, auths, authorize, onError));
  }
  app.notFound((c) => errorResponse(HttpError.routeNotFound(c.req.method, new URL(c.req.url).pathname), () => undefined));
  app.onError((error, c) => errorResponse(error, (unexpected) => onError(unexpected, c.req.raw)));

  const handler = async (request: Request) => app.fetch(request);
  return Object.assign(handler, { prefix });
}
