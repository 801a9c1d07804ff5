import { HttpError } from '@entity-sync/core';

/** Who sent a request, as its credentials say; handlers receive it in their context. */
export interface Principal {
  /** The token's subject (`sub` of a JWT, the configured name of a static token). */
  readonly subject: string;
  /** The rights the credentials grant (from a JWT's roles/scope claim), or `'all'` (a static token by default). */
  readonly rights: readonly string[] | 'all';
  /** The JWT's verified claims (empty for a static token). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Which kind of credentials it came from: `'token'`, `'jwt'`, or a custom auth's name. */
  readonly via: string;
}

/**
 * A way to authenticate a bearer token. Built in: `staticTokenAuth` and `jwtAuth`; a custom one
 * implements the same member.
 *
 * @example
 * const apiKeys: HttpAuth = {
 *   async authenticate(token) {
 *     const key = await keys.find(token);   // the app's own store
 *     return key ? { subject: key.owner, rights: key.rights, claims: {}, via: 'api-key' } : null;
 *   },
 * };
 */
export interface HttpAuth {
  /**
   * The principal `token` stands for; `null` when the token is not of this kind (another auth in
   * the list may accept it); throws AUTH_INVALID (`HttpError.authInvalid`) when it is of this kind but bad.
   */
  authenticate(token: string, request: Request): Promise<Principal | null>;
}

/** Decides whether `principal` has `right`; the default grants a right the principal's rights list (or `'all'`). */
export type Authorize = (principal: Principal, right: string, request: Request) => boolean | Promise<boolean>;

/** The default `authorize`: the principal's rights include `right`, or are `'all'`. */
export const hasRight: Authorize = (principal, right) => principal.rights === 'all' || principal.rights.includes(right);

const BEARER = /^Bearer[ ]+(\S+)\s*$/i;

/**
 * Authenticates `request`'s bearer token with the first of `auths` that knows it: AUTH_REQUIRED without one, AUTH_INVALID when none accepts it.
 * With `tokenQuery`, a request without an Authorization header may carry the token in that query parameter instead.
 */
export async function authenticateRequest(request: Request, auths: readonly HttpAuth[], tokenQuery?: string): Promise<Principal> {
  const header = request.headers.get('authorization');
  const queried = !header && tokenQuery ? new URL(request.url).searchParams.get(tokenQuery) : null;
  if (!header && !queried) throw HttpError.authRequired();
  const token = queried || BEARER.exec(header!)?.[1];
  if (!token) throw HttpError.authInvalid('the Authorization header is not of the form Bearer <token>');
  for (const auth of auths) {
    const principal = await auth.authenticate(token, request);
    if (principal) return principal;
  }
  throw HttpError.authInvalid('it matches none of the credentials this server accepts');
}
