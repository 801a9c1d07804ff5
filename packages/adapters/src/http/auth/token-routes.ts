import { HttpError, OptionError } from '@entity-sync/core';
import { SignJWT } from 'jose';
import { z } from 'zod';
import type { HttpRoutes } from '../routes.js';

/** Who the credentials stand for, as the app's check says: what the token carries. */
export interface TokenSubject {
  /** The user's id (the token's `sub`). */
  subject: string;
  /** The rights of the routes the token opens (`scope`), e.g. `['push-pull:pull', 'push-pull:push']`. */
  rights: string[];
  /** The tenants the user belongs to (`tenants`). */
  tenants?: string[];
  /** The user's roles, which permissions per model are given to (`sync_roles`). */
  roles?: string[];
}

/** Options of `tokenRoutes`. */
export interface TokenRoutesOptions {
  /** The HS256 secret the tokens are signed with (at least 32 bytes); `jwtAuth({ secret, algorithms: ['HS256'], issuer, audience })` verifies them. */
  secret: string | Uint8Array;
  /** The app's check of the credentials a client sends (any JSON object): who they stand for, or null when they are wrong. */
  verify: (credentials: Record<string, unknown>, request: Request) => Promise<TokenSubject | null> | TokenSubject | null;
  /** On a refresh: who the token's subject is now (roles may have changed), or null when the user may no longer sign in. Default: the token's claims as they are. */
  refresh?: (subject: TokenSubject, request: Request) => Promise<TokenSubject | null> | TokenSubject | null;
  issuer: string;
  audience: string;
  /** Seconds a token lives (default 900). */
  expiresInSeconds?: number;
}

const credentials = z.record(z.string(), z.unknown());

/**
 * A token endpoint: `POST <prefix>/auth/token` with the credentials (a JSON object the app's
 * `verify` checks) answers `{ token, tokenType: 'Bearer', expiresAt }`, an HS256 JWT carrying the
 * subject, its rights (`scope`), tenants and roles; wrong credentials are 401 `AUTH_INVALID`.
 * `POST <prefix>/auth/refresh` with a valid token (sent as the bearer token) answers a new one,
 * checked again by `refresh`, so that a user who lost access gets no new token. Mount it with a
 * `jwtAuth` of the same secret, issuer and audience.
 *
 * @example
 * ```ts
 * const auth = jwtAuth({ secret, algorithms: ['HS256'], issuer: 'app', audience: 'sync' });
 * createHttpHandler({ prefix: '/sync', auth, routes: [tokenRoutes({ secret, issuer: 'app', audience: 'sync', verify: checkPassword }), pushPullRoutes(orm)] });
 * ```
 */
export function tokenRoutes(options: TokenRoutesOptions): HttpRoutes {
  const secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
  if (secret.byteLength < 32) throw OptionError.invalidArgument('tokenRoutes', 'secret', `${secret.byteLength} bytes`, 'a secret of at least 32 bytes');
  const lifetime = options.expiresInSeconds ?? 900;
  if (!Number.isInteger(lifetime) || lifetime < 1) throw OptionError.invalidArgument('tokenRoutes', 'expiresInSeconds', lifetime, 'a whole number of seconds');
  const issue = async (subject: TokenSubject) => {
    const expiresAt = Math.floor(Date.now() / 1000) + lifetime;
    const token = await new SignJWT({ scope: subject.rights.join(' '), tenants: subject.tenants ?? [], sync_roles: subject.roles ?? [] })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(subject.subject).setIssuer(options.issuer).setAudience(options.audience)
      .setIssuedAt().setExpirationTime(expiresAt).sign(secret);
    return Response.json({ token, tokenType: 'Bearer', expiresAt: new Date(expiresAt * 1000).toISOString() });
  };
  return (route) => {
    route.post('/auth/token', { public: true, body: credentials }, async ({ body, request }) => {
      const subject = await options.verify(body, request);
      if (!subject) throw HttpError.credentialsInvalid();
      return issue(subject);
    });
    route.post('/auth/refresh', {}, async ({ principal, request }) => {
      const claims = principal!.claims;
      if (principal!.via !== 'jwt' || claims.iss !== options.issuer) throw HttpError.authInvalid('only a token of this endpoint can be refreshed');
      const current: TokenSubject = {
        subject: principal!.subject,
        rights: principal!.rights === 'all' ? [] : [...principal!.rights],
        tenants: Array.isArray(claims.tenants) ? claims.tenants as string[] : [],
        roles: Array.isArray(claims.sync_roles) ? claims.sync_roles as string[] : [],
      };
      const renewed = options.refresh ? await options.refresh(current, request) : current;
      if (!renewed) throw HttpError.credentialsInvalid();
      return issue(renewed);
    });
  };
}
