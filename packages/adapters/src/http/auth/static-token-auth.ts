import { createHash, timingSafeEqual } from 'node:crypto';
import { OptionError } from '@entity-sync/core';
import type { HttpAuth } from './principal.js';

/** Options of `staticTokenAuth`. */
export interface StaticTokenAuthOptions {
  /** The secret token clients send as `Authorization: Bearer <token>` (at least 16 characters). */
  token: string;
  /** The principal's subject (default `'static-token'`). */
  subject?: string;
  /** The rights the token grants (default `'all'`). */
  rights?: readonly string[] | 'all';
}

// Equal-length digests, so that the comparison takes the same time whatever the token's length or content.
const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/**
 * Accepts one shared secret token, compared in constant time. Any other token is not this auth's
 * (`null`): with no other auth configured the request is refused as AUTH_INVALID.
 */
export function staticTokenAuth(options: StaticTokenAuthOptions): HttpAuth {
  const fn = 'staticTokenAuth';
  if (typeof options?.token !== 'string' || options.token.length < 16) {
    throw OptionError.invalid(fn, 'token', options?.token, 'a string of at least 16 characters', 'Generate one with `openssl rand -hex 32`.');
  }
  const expected = digest(options.token);
  const principal = { subject: options.subject ?? 'static-token', rights: options.rights ?? 'all', claims: {}, via: 'token' } as const;
  return {
    async authenticate(token) {
      return timingSafeEqual(digest(token), expected) ? principal : null;
    },
  };
}
