import type { Principal } from './auth/principal.js';
import type { RequestSchema, SchemaOutput } from './request-schema.js';

/** What a route declares besides its path: the right it needs and the schemas of its inputs. */
export interface RouteOptions<Query extends RequestSchema | undefined = undefined, Body extends RequestSchema | undefined = undefined,
  Params extends RequestSchema | undefined = undefined> {
  /** The right the principal needs (`'read'`, `'env-sync:pull'`...), decided by the handler's `authorize`. Omitted: any authenticated principal. */
  right?: string;
  /** `true`: served without credentials (health, say); `right` is then ignored. */
  public?: boolean;
  /**
   * A query parameter that may carry the bearer token when the request has no Authorization
   * header (`'access_token'`): for clients that cannot set headers, such as a browser's
   * EventSource. A token in a URL can end up in access logs: give it only to routes that need it.
   */
  tokenQuery?: string;
  /** Validates the query (a parameter given once is a string, repeated an array of strings). */
  query?: Query;
  /** Validates the JSON body (POST). Without it the body is left unread in `request` for the handler to stream. */
  body?: Body;
  /** Validates the path parameters (`/files/:hash` gives `{ hash }`). */
  params?: Params;
  /**
   * Told of every request the route answers, refused ones too (401, 403, 400 before the handler
   * runs), once it is done: for logs and metrics. A streamed answer is done when the handler's
   * `report({ finished })` settles. A failure of its own is handed to the handler's `onError`.
   */
  observe?: (outcome: RouteOutcome) => void | Promise<void>;
}

/** What the handler reports of a request for `observe`: facts of its own (rows, models), and when a streamed answer is done. */
export interface RouteFacts {
  [fact: string]: unknown;
  /** Settles when the answer's stream has ended (fulfilled) or failed (rejected, with the error). */
  finished?: Promise<unknown>;
}

/** One request as `observe` is told of it. */
export interface RouteOutcome {
  /** `POST /prefix/push`. */
  route: string;
  request: Request;
  /** Who sent it; null when it was refused before it was authenticated (or the route is public). */
  principal: Principal | null;
  /** The body, when the route has a body schema and it was JSON: as validated, or as it came when it did not pass. */
  body?: unknown;
  /** The status answered (a failed stream: the status of its error, though 200 was sent). */
  status: number;
  /** The typed error's code, when it failed. */
  errorCode?: string;
  /** From the request's arrival to its answer's end. */
  durationMs: number;
  /** What the handler reported (`report`). */
  facts: RouteFacts;
}

/** What a route's handler receives: the validated inputs, the principal and the request itself. */
export interface RouteContext<Query = undefined, Body = undefined, Params = Record<string, string>> {
  /** The Fetch request; its body is unread unless the route declared a `body` schema. */
  readonly request: Request;
  /** The request's URL, parsed. */
  readonly url: URL;
  /** The query, as the route's `query` schema returned it (`undefined` without one). */
  readonly query: Query;
  /** The JSON body, as the route's `body` schema returned it (`undefined` without one). */
  readonly body: Body;
  /** The path parameters (validated when the route declared `params`). */
  readonly params: Params;
  /** Who sent the request (`null` on a public route). */
  readonly principal: Principal | null;
  /** Aborts when the client goes away: pass it to long queries. */
  readonly signal: AbortSignal;
  /** Adds facts of this request for the route's `observe` (rows sent, models, a streamed answer's end). */
  report(facts: RouteFacts): void;
}

/** A route's handler: the context in, a Response out (or thrown EntitySyncError, answered as error JSON). */
export type RouteHandler<Query, Body, Params> = (context: RouteContext<Query, Body, Params>) => Response | Promise<Response>;

type Output<S, Default> = S extends RequestSchema ? SchemaOutput<S> : Default;

/** Declares routes: the builder a capability's routes function is given. Paths are relative to the handler's prefix. */
export interface RouteBuilder {
  /** Declares `GET path` (Hono-style paths: `/export`, `/files/:hash`). */
  get<Query extends RequestSchema | undefined = undefined, Params extends RequestSchema | undefined = undefined>(
    path: string, options: RouteOptions<Query, undefined, Params>,
    handler: RouteHandler<Output<Query, undefined>, undefined, Output<Params, Record<string, string>>>): RouteBuilder;
  /** Declares `POST path`. */
  post<Query extends RequestSchema | undefined = undefined, Body extends RequestSchema | undefined = undefined,
    Params extends RequestSchema | undefined = undefined>(
    path: string, options: RouteOptions<Query, Body, Params>,
    handler: RouteHandler<Output<Query, undefined>, Output<Body, undefined>, Output<Params, Record<string, string>>>): RouteBuilder;
}

/**
 * A capability's routes: a function that declares them on the builder it is given.
 *
 * @example
 * const pingRoutes: HttpRoutes = (route) => {
 *   route.get('/ping', { right: 'read', query: z.object({ name: z.string() }) },
 *     async ({ query, principal }) => Response.json({ hello: query.name, from: principal?.subject }));
 * };
 */
export type HttpRoutes = (route: RouteBuilder) => void;

/** One declared route, as the handler registers it. */
export interface RouteDeclaration {
  method: 'GET' | 'POST';
  path: string;
  options: RouteOptions<RequestSchema | undefined, RequestSchema | undefined, RequestSchema | undefined>;
  handler: RouteHandler<unknown, unknown, unknown>;
}

/** Runs `routes` against a builder that records what they declare. */
export function declareRoutes(routes: readonly HttpRoutes[]): RouteDeclaration[] {
  const declared: RouteDeclaration[] = [];
  const builder: RouteBuilder = {
    get(path, options, handler) {
      declared.push({ method: 'GET', path, options, handler: handler as RouteDeclaration['handler'] });
      return builder;
    },
    post(path, options, handler) {
      declared.push({ method: 'POST', path, options, handler: handler as RouteDeclaration['handler'] });
      return builder;
    },
  };
  for (const declare of routes) declare(builder);
  return declared;
}
