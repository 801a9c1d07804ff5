import { EntitySyncError } from './entity-sync-error.js';
import type { ErrorCode } from './error-code.js';

/** One problem a schema found in a request's query or body: where (`path`) and what it must be (`message`). */
export interface RequestIssue {
  path: string;
  message: string;
}

// A server of another version may answer with a code this one does not know: it is kept as sent.
const CODE_SHAPE = /^[A-Z][A-Z0-9_]{1,63}$/;

// A URL without its query, for messages: the query may carry anything.
function where(url: string | URL): string {
  const parsed = new URL(String(url));
  return `${parsed.origin}${parsed.pathname}`;
}

/**
 * Failures of the HTTP layer: a request the server refuses (malformed, unauthenticated, not
 * allowed), and, on the client side, a server's error answer or a connection that fails.
 */
export class HttpError extends EntitySyncError {
  /** A query parameter, path parameter or body field (`field`) does not match the route's schema. */
  static requestInvalid(route: string, part: 'query' | 'body' | 'params', issues: RequestIssue[]): HttpError {
    const first = issues[0] ?? { path: '', message: 'invalid' };
    const field = first.path || `(${part})`;
    const label = part === 'query' ? 'query parameter' : part === 'params' ? 'path parameter' : 'body field';
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''}, listed in info.issues)` : '';
    return new HttpError('REQUEST_INVALID',
      `${route}: ${first.path ? `${label} '${first.path}'` : `the ${part}`} is invalid: ${first.message}${more}. Fix the request and send it again.`,
      { info: { route, part, field, issues } });
  }

  /** The body of `route` is not the JSON the route reads. */
  static bodyNotJson(route: string, cause: unknown): HttpError {
    return new HttpError('REQUEST_INVALID', `${route}: the body is not valid JSON (${(cause as Error)?.message ?? String(cause)}). Send a JSON body.`,
      { cause, info: { route, part: 'body', field: '(body)', issues: [] } });
  }

  /** The request has no `Authorization: Bearer <token>` header. */
  static authRequired(): HttpError {
    return new HttpError('AUTH_REQUIRED', 'This endpoint needs credentials: send the header Authorization: Bearer <token>.');
  }

  /** The bearer token is not accepted; `reason` says why (expired, signature, issuer...). */
  static authInvalid(reason: string, cause?: unknown): HttpError {
    return new HttpError('AUTH_INVALID', `The bearer token is not accepted: ${reason}. Send a valid token.`, { cause, info: { reason } });
  }

  /** The credentials sent to a token endpoint are not accepted (the app's check said no). */
  static credentialsInvalid(): HttpError {
    return new HttpError('AUTH_INVALID', 'The credentials are not accepted. Check them and ask for a token again.', { info: { reason: 'credentials' } });
  }

  /** The credentials are valid but `subject` lacks the `right` the route needs. */
  static forbidden(route: string, subject: string, right: string): HttpError {
    return new HttpError('AUTH_FORBIDDEN',
      `${route} needs the right '${right}', which '${subject}' does not have. Use credentials that grant it (a 'roles' or 'scope' claim listing '${right}').`,
      { info: { route, subject, right } });
  }

  /** Nothing is served at `method path`. */
  static routeNotFound(method: string, path: string): HttpError {
    return new HttpError('ROUTE_NOT_FOUND', `Nothing is served at ${method} ${path}: check the URL and the prefix the server mounts its endpoints under.`,
      { info: { method, path } });
  }

  /** What a client is told when the server failed in a way that is not the request's fault; the details stay in the server's log. */
  static internal(): HttpError {
    return new HttpError('INTERNAL_ERROR', 'The server failed while answering this request; its log has the details. Try again later or tell its operator.');
  }

  /** The server at `url` answered `status` with an error of its own (`code`, `message`): the client raises it as sent. */
  static remote(url: string | URL, status: number, code: string, message: string, info: Record<string, unknown> = {}): HttpError {
    const known = CODE_SHAPE.test(code) ? code as ErrorCode : 'HTTP_FAILED';
    return new HttpError(known, message, { info: { ...info, url: where(url), status, ...(known === code ? {} : { remoteCode: code }) } });
  }

  /** The server at `url` answered `status` without an error body this client can read (`body` is its start). */
  static statusFailed(url: string | URL, status: number, body: string): HttpError {
    return new HttpError('HTTP_FAILED',
      `${where(url)} answered HTTP ${status}${body ? `: ${body}` : ''}. Check the URL, and that the server there runs entity-sync's HTTP layer.`,
      { info: { url: where(url), status } });
  }

  /** The server at `url` cannot be reached (refused, reset, DNS, TLS). */
  static unreachable(url: string | URL, cause: unknown): HttpError {
    return new HttpError('TRANSPORT_UNAVAILABLE',
      `Cannot reach ${where(url)}: ${describeCause(cause)}. Check that the server runs and the URL is right, then try again.`,
      { cause, info: { url: where(url), phase: 'connect' } });
  }

  /** The response from `url` ended before its end (the server or the network went away); what was read is incomplete. */
  static cutShort(url: string | URL, cause: unknown): HttpError {
    return new HttpError('TRANSPORT_UNAVAILABLE',
      `The response from ${where(url)} broke off before its end: ${describeCause(cause)}. What was received is incomplete; try again.`,
      { cause, info: { url: where(url), phase: 'response' } });
  }

  /** The JSON Web Key Set at `url`, which verifies tokens, cannot be fetched. */
  static keySetUnavailable(url: string, cause: unknown): HttpError {
    return new HttpError('TRANSPORT_UNAVAILABLE',
      `The key set that verifies tokens (${url}) cannot be fetched: ${describeCause(cause)}. Check the jwks URL and that its server is up.`,
      { cause, info: { url, phase: 'jwks' } });
  }
}

// The innermost reason a fetch failed: undici wraps the socket error ("fetch failed" -> ECONNREFUSED).
function describeCause(cause: unknown): string {
  let current = cause as { message?: unknown; code?: unknown; cause?: unknown } | undefined;
  let text = String(current?.message ?? cause);
  for (let depth = 0; current?.cause && depth < 4; depth++) {
    current = current.cause as typeof current;
    const code = typeof current?.code === 'string' ? `${current.code}: ` : '';
    if (current?.message) text = `${code}${String(current.message)}`;
  }
  return text;
}
