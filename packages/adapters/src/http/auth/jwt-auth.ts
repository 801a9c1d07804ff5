import { createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { HttpError, OptionError } from '@entity-sync/core';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWK, type JWTPayload } from 'jose';
import type { HttpAuth, Principal } from './principal.js';

/** Options of `jwtAuth`: exactly one of `secret`, `publicKey` and `jwks`, and the algorithms allowed. */
export interface JwtAuthOptions {
  /** The shared secret of HS256/HS384/HS512 tokens. */
  secret?: string | Uint8Array;
  /** The public key of RS*, PS*, ES* or EdDSA tokens: a PEM (SPKI) string, a KeyObject, a CryptoKey or a JWK. */
  publicKey?: string | KeyObject | webcrypto.CryptoKey | JWK;
  /** A JSON Web Key Set: its URL (fetched and cached, e.g. `https://issuer/.well-known/jwks.json`) or the set itself. */
  jwks?: string | URL | JSONWebKeySet;
  /** The algorithms a token may be signed with, e.g. `['RS256']`; any other (and `none`) is refused. Required. */
  algorithms: readonly string[];
  /** The `iss` a token must carry (one of them, when a list). */
  issuer?: string | readonly string[];
  /** The `aud` a token must carry (one of them, when a list). */
  audience?: string | readonly string[];
  /** Clock skew allowed on `exp` and `nbf`, in seconds or as a span (`'30s'`); default 0. */
  clockTolerance?: number | string;
  /** Whether a token without `exp` is refused (default true: a token that never expires is a leak waiting to last). */
  requireExpiry?: boolean;
  /**
   * The claim that lists the principal's rights, a dotted path for nested claims
   * (`'realm_access.roles'`); an array of strings or a space-separated string. Default: `roles`,
   * `scope` and `scp` together.
   */
  rightsClaim?: string;
}

const FN = 'jwtAuth';
const SYMMETRIC = /^HS(256|384|512)$/;
const ASYMMETRIC = /^(RS|PS|ES)(256|384|512)$|^ES256K$|^EdDSA$|^Ed25519$/;
// A compact JWS: header.payload.signature (the signature is empty in an `alg: none` token, which is refused by the allow-list).
const COMPACT_JWS = /^[\w-]+\.[\w-]+\.[\w-]*$/;

function asList(value: string | readonly string[] | undefined): string[] | undefined {
  return value === undefined ? undefined : typeof value === 'string' ? [value] : [...value];
}

function claimAt(payload: JWTPayload, path: string): unknown {
  return path.split('.').reduce<unknown>((value, key) => (value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined), payload);
}

function rightsIn(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/\s+/).filter(Boolean);
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

type VerifyKey = Parameters<typeof jwtVerify>[1];

function keyOf(options: JwtAuthOptions): { key: VerifyKey; jwksUrl?: string } {
  const given = (['secret', 'publicKey', 'jwks'] as const).filter((name) => options[name] !== undefined);
  if (given.length !== 1) {
    throw OptionError.invalid(FN, given[1] ?? 'secret', given.length ? options[given[1]!] : undefined,
      'exactly one of secret, publicKey and jwks', `Given: ${given.join(', ') || 'none'}.`);
  }
  const algorithms = options.algorithms as readonly string[] | undefined;
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw OptionError.invalid(FN, 'algorithms', algorithms, "a non-empty list of the algorithms tokens are signed with (e.g. ['RS256'])");
  }
  const family = options.secret !== undefined ? SYMMETRIC : ASYMMETRIC;
  const wrong = algorithms.find((alg) => !family.test(alg));
  if (wrong !== undefined) {
    throw OptionError.invalid(FN, 'algorithms', wrong, options.secret !== undefined
      ? 'HS256, HS384 or HS512 with a secret'
      : 'an asymmetric algorithm (RS*, PS*, ES*, EdDSA) with a public key or key set', "'none' is never allowed.");
  }
  if (options.secret !== undefined) {
    const secret = typeof options.secret === 'string' ? new TextEncoder().encode(options.secret) : options.secret;
    if (secret.byteLength < 32) throw OptionError.invalid(FN, 'secret', `${secret.byteLength} bytes`, 'at least 32 bytes for HS256');
    return { key: secret };
  }
  if (options.publicKey !== undefined) {
    return { key: typeof options.publicKey === 'string' ? createPublicKey(options.publicKey) : options.publicKey as VerifyKey };
  }
  const jwks = options.jwks!;
  if (typeof jwks === 'string' || jwks instanceof URL) return { key: createRemoteJWKSet(new URL(String(jwks))), jwksUrl: String(jwks) };
  return { key: createLocalJWKSet(jwks) };
}

// What a token's refusal reads as: which check it failed, never the token itself.
function refusal(error: unknown, jwksUrl: string | undefined): HttpError {
  if (error instanceof errors.JWTExpired) return HttpError.authInvalid('it has expired', error);
  if (error instanceof errors.JWTClaimValidationFailed) return HttpError.authInvalid(`its '${error.claim}' claim fails the check (${error.reason})`, error);
  if (error instanceof errors.JOSEAlgNotAllowed) return HttpError.authInvalid('it is signed with an algorithm this server does not allow', error);
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) {
    return HttpError.authInvalid('its signature does not verify with the configured key', error);
  }
  // the key set could not be fetched or read: the server's outage, not the token's fault
  if (jwksUrl !== undefined && (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid)) return HttpError.keySetUnavailable(jwksUrl, error);
  if (error instanceof errors.JOSEError) return HttpError.authInvalid(`it is not a valid JWT (${error.code})`, error);
  if (jwksUrl !== undefined) return HttpError.keySetUnavailable(jwksUrl, error);
  return HttpError.authInvalid('it cannot be verified', error);
}

/**
 * Accepts JWTs verified with jose: signature (HS* secret, public key or JWKS), the `algorithms`
 * allow-list, `exp`/`nbf` (with `clockTolerance`), `issuer` and `audience`. The principal's
 * subject is `sub`, its rights the `rightsClaim`. A token that is not JWT-shaped is not this
 * auth's (another auth in the list may accept it).
 */
export function jwtAuth(options: JwtAuthOptions): HttpAuth {
  const { key, jwksUrl } = keyOf(options);
  const verify = {
    algorithms: [...options.algorithms],
    issuer: asList(options.issuer),
    audience: asList(options.audience),
    clockTolerance: options.clockTolerance,
    requiredClaims: options.requireExpiry === false ? [] : ['exp'],
  };
  return {
    async authenticate(token): Promise<Principal | null> {
      if (!COMPACT_JWS.test(token)) return null;
      let payload: JWTPayload;
      try {
        // jose's overloads take a key or a key-set function; one call site serves both
        ({ payload } = await jwtVerify(token, key as Parameters<typeof jwtVerify>[1] & Uint8Array, verify));
      } catch (error) {
        throw refusal(error, jwksUrl);
      }
      const rights = options.rightsClaim !== undefined
        ? rightsIn(claimAt(payload, options.rightsClaim))
        : [...new Set([...rightsIn(payload.roles), ...rightsIn(payload.scope), ...rightsIn(payload.scp)])];
      return { subject: typeof payload.sub === 'string' ? payload.sub : '(no sub claim)', rights, claims: payload, via: 'jwt' };
    },
  };
}
