import { createHmac, timingSafeEqual } from 'node:crypto';
import { OptionError } from '@entity-sync/core';
import { jwtVerify, SignJWT } from 'jose';
import type { TokenSubject } from '../../../http/index.js';

/** How staff sign in to the admin page: the app's check of a user name and password, and how the session's token is signed. */
export interface AdminSignIn {
  /** The HS256 secret the session tokens are signed with (at least 32 bytes); the same as `tokenRoutes`' lets its tokens open the page too. */
  secret: string | Uint8Array;
  issuer: string;
  audience: string;
  /** The app's check of the sign-in form (`{ username, password }`): who they stand for, or null when they are wrong. */
  verify: (credentials: { username: string; password: string }, request: Request) => Promise<TokenSubject | null> | TokenSubject | null;
  /** Seconds a session lasts (default 3,600). */
  expiresInSeconds?: number;
}

/** The cookie the admin page's session token travels in (HttpOnly, SameSite=Strict, the admin path only). */
export const ADMIN_COOKIE = 'entity_sync_admin';

/** Who a request of the admin page comes from. */
export type AdminVisitor =
  | { kind: 'anonymous' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'not-staff'; subject: string }
  | { kind: 'staff'; subject: string; roles: string[]; csrf: string };

/** The session side of the admin page: signing in, telling who a request comes from, and its CSRF token. */
export class AdminSession {
  private readonly secret: Uint8Array;
  private readonly lifetime: number;

  constructor(private readonly signIn: AdminSignIn, private readonly staffRole: string, private readonly path: string) {
    this.secret = typeof signIn.secret === 'string' ? new TextEncoder().encode(signIn.secret) : signIn.secret;
    if (this.secret.byteLength < 32) throw OptionError.invalid('adminRoutes', 'signIn.secret', `${this.secret.byteLength} bytes`, 'a secret of at least 32 bytes');
    this.lifetime = signIn.expiresInSeconds ?? 3600;
    if (!Number.isInteger(this.lifetime) || this.lifetime < 60) throw OptionError.invalid('adminRoutes', 'signIn.expiresInSeconds', this.lifetime, 'a whole number of seconds, 60 or more');
    if (typeof signIn.verify !== 'function') throw OptionError.invalid('adminRoutes', 'signIn.verify', signIn.verify, 'a function ({ username, password }, request) => subject or null');
  }

  /** Checks the sign-in form: the session cookie of a staff user, or why there is none. */
  async signInWith(credentials: { username: string; password: string }, request: Request): Promise<{ cookie: string } | { refused: 'credentials' | 'not-staff' }> {
    const subject = await this.signIn.verify(credentials, request);
    if (!subject) return { refused: 'credentials' };
    if (!(subject.roles ?? []).includes(this.staffRole)) return { refused: 'not-staff' };
    const token = await new SignJWT({ scope: subject.rights.join(' '), tenants: subject.tenants ?? [], sync_roles: subject.roles ?? [] })
      .setProtectedHeader({ alg: 'HS256' }).setSubject(subject.subject).setIssuer(this.signIn.issuer).setAudience(this.signIn.audience)
      .setIssuedAt().setExpirationTime(Math.floor(Date.now() / 1000) + this.lifetime).sign(this.secret);
    const secure = new URL(request.url).protocol === 'https:' ? '; Secure' : '';
    return { cookie: `${ADMIN_COOKIE}=${token}; Path=${this.path}; HttpOnly; SameSite=Strict; Max-Age=${this.lifetime}${secure}` };
  }

  /** The cookie that ends the session. */
  signOutCookie(): string {
    return `${ADMIN_COOKIE}=; Path=${this.path}; HttpOnly; SameSite=Strict; Max-Age=0`;
  }

  /** Who sent `request`: its session cookie's (or bearer token's) user, if valid, and whether they are staff. */
  async visitor(request: Request): Promise<AdminVisitor> {
    const cookie = (request.headers.get('cookie') ?? '').split(';').map((part) => part.trim()).find((part) => part.startsWith(`${ADMIN_COOKIE}=`));
    const token = cookie?.slice(ADMIN_COOKIE.length + 1) || /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
    if (!token) return { kind: 'anonymous' };
    let claims: Record<string, unknown>;
    try {
      ({ payload: claims } = await jwtVerify(token, this.secret, { issuer: this.signIn.issuer, audience: this.signIn.audience, algorithms: ['HS256'] }));
    } catch (error) {
      return { kind: 'invalid', reason: (error as Error).message };
    }
    const subject = typeof claims.sub === 'string' ? claims.sub : '';
    const roles = Array.isArray(claims.sync_roles) ? claims.sync_roles.filter((role): role is string => typeof role === 'string') : [];
    if (!subject || !roles.includes(this.staffRole)) return { kind: 'not-staff', subject: subject || 'anonymous' };
    return { kind: 'staff', subject, roles, csrf: this.csrfOf(token) };
  }

  /** Whether a form's CSRF token is the session's (in constant time). */
  csrfMatches(visitor: AdminVisitor & { kind: 'staff' }, sent: string | null): boolean {
    const expected = Buffer.from(visitor.csrf);
    const given = Buffer.from(sent ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  // the token of a session, bound to it: a page of another site can neither read it nor make it
  private csrfOf(token: string): string {
    return createHmac('sha256', this.secret).update(`csrf:${token}`).digest('base64url');
  }
}
