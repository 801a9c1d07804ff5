// Authentication and authorization: a static token (constant-time) and JWTs verified with jose.
// Every refused request is 401 with WWW-Authenticate: Bearer (403 for a valid principal without
// the right), and the route never runs.
import { createHttpHandler, jwtAuth, staticTokenAuth, type HttpHandler } from '@entity-sync/adapters/http';
import { isEntitySyncError } from '@entity-sync/core';
import { exportJWK, exportSPKI, generateKeyPair, importJWK, SignJWT, type JWTPayload } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RouteLog, testRoutes } from './routes.js';
import { serve, type Served } from './serve.js';

const STATIC = 'static-token-0123456789abcdef';
const ISSUER = 'https://issuer.test/';
const AUDIENCE = 'entity-sync';
const HS_SECRET = 'hs256-secret-of-at-least-32-bytes-long!!';

const test = suite('HTTP auth');
let rs: Awaited<ReturnType<typeof generateKeyPair>>;
let es: Awaited<ReturnType<typeof generateKeyPair>>;
let otherRs: Awaited<ReturnType<typeof generateKeyPair>>;
let log: RouteLog;
let server: Served;
let hsServer: Served;

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** A JWT with the usual claims (overridable), signed with `key` as `alg` and `kid`. */
function jwt(key: Parameters<SignJWT['sign']>[0], alg: string, claims: JWTPayload = {}, kid = alg === 'ES256' ? 'es' : 'rs') {
  return new SignJWT({ sub: 'alice', roles: ['read'], iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 600, ...claims })
    .setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
}

async function call(base: Served, path: string, token?: string): Promise<{ status: number; body: any; challenge: string | null }> {
  const response = await fetch(`${base.url}/api${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: response.status, body: await response.json(), challenge: response.headers.get('www-authenticate') };
}

test.before(async () => {
  rs = await generateKeyPair('RS256', { extractable: true });
  es = await generateKeyPair('ES256', { extractable: true });
  otherRs = await generateKeyPair('RS256', { extractable: true });
  // no `alg` on the keys: the allow-list alone decides which algorithms a key verifies
  const keys = [{ ...await exportJWK(rs.publicKey), kid: 'rs' }, { ...await exportJWK(es.publicKey), kid: 'es' }];
  log = new RouteLog();
  const handler: HttpHandler = createHttpHandler({
    prefix: '/api',
    auth: [staticTokenAuth({ token: STATIC }), jwtAuth({ jwks: { keys }, algorithms: ['RS256', 'ES256'], issuer: ISSUER, audience: AUDIENCE, clockTolerance: 30 })],
    routes: testRoutes(log),
  });
  server = await serve(handler, 'node');
  hsServer = await serve(createHttpHandler({
    prefix: '/api', auth: jwtAuth({ secret: HS_SECRET, algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE }), routes: testRoutes(log),
  }), 'node');
});
test.after(async () => {
  await server.close();
  await hsServer.close();
});
test.before.each(() => {
  log.ran = [];
  log.principals = [];
});

test('no credentials, a wrong static token and bad JWTs are 401 with WWW-Authenticate: Bearer; the route never runs', async () => {
  const secret = new TextEncoder().encode(HS_SECRET);
  const rsPem = await exportSPKI(rs.publicKey);
  const refused: [string, string | undefined, string][] = [
    ['no token', undefined, 'AUTH_REQUIRED'],
    ['a wrong static token', 'static-token-0123456789abcdeX', 'AUTH_INVALID'],
    ['an expired JWT', await jwt(rs.privateKey, 'RS256', { exp: now() - 120 }), 'AUTH_INVALID'],
    ['a JWT without exp', await new SignJWT({ sub: 'alice', roles: ['read'], iss: ISSUER, aud: AUDIENCE })
      .setProtectedHeader({ alg: 'RS256', kid: 'rs' }).sign(rs.privateKey), 'AUTH_INVALID'],
    ['alg: none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', roles: ['read'], iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })}.`, 'AUTH_INVALID'],
    ['a JWT signed with another key (same kid)', await jwt(otherRs.privateKey, 'RS256'), 'AUTH_INVALID'],
    ['an HS256 JWT where only RS256/ES256 are allowed', await jwt(secret, 'HS256'), 'AUTH_INVALID'],
    ['an HS256 JWT keyed with the RSA public key (algorithm confusion)', await jwt(new TextEncoder().encode(rsPem), 'HS256'), 'AUTH_INVALID'],
    ['a PS256 JWT signed with the RS256 key (not in the allow-list)', await jwt(await importJWK(await exportJWK(rs.privateKey), 'PS256'), 'PS256'), 'AUTH_INVALID'],
    ['a wrong issuer', await jwt(rs.privateKey, 'RS256', { iss: 'https://evil.test/' }), 'AUTH_INVALID'],
    ['a wrong audience', await jwt(es.privateKey, 'ES256', { aud: 'another-api' }), 'AUTH_INVALID'],
    ['a JWT not yet valid', await jwt(rs.privateKey, 'RS256', { nbf: now() + 600 }), 'AUTH_INVALID'],
    ['a tampered payload', await (async () => {
      const [header, , signature] = (await jwt(rs.privateKey, 'RS256')).split('.');
      return `${header}.${b64({ sub: 'mallory', roles: ['read', 'write'], iss: ISSUER, aud: AUDIENCE, exp: now() + 600 })}.${signature}`;
    })(), 'AUTH_INVALID'],
  ];
  for (const [what, token, code] of refused) {
    const { status, body, challenge } = await call(server, '/echo?name=x', token);
    assert.is(status, 401, what);
    assert.is(body.error.code, code, what);
    assert.ok(challenge?.startsWith('Bearer'), `${what}: ${challenge}`);
  }
  assert.equal(log.ran, [], 'the route ran for a refused request');
});

test('the right static token, RS256 and ES256 JWTs are served; the principal reaches the route', async () => {
  assert.is((await call(server, '/echo?name=x', STATIC)).status, 200);
  const viaRs = await call(server, '/echo?name=x', await jwt(rs.privateKey, 'RS256'));
  assert.is(viaRs.status, 200);
  assert.is(viaRs.body.subject, 'alice');
  assert.is((await call(server, '/echo?name=x', await jwt(es.privateKey, 'ES256', { sub: 'bob', roles: undefined, scope: 'write read' }))).status, 200);
  // expired 10 s ago, within the clock tolerance of 30 s
  assert.is((await call(server, '/echo?name=x', await jwt(rs.privateKey, 'RS256', { exp: now() - 10 }))).status, 200);
  assert.equal(log.ran, ['echo', 'echo', 'echo', 'echo']);
  assert.equal(log.principals.map((p) => [p?.subject, p?.via, p?.rights]), [
    ['static-token', 'token', 'all'], ['alice', 'jwt', ['read']], ['bob', 'jwt', ['write', 'read']], ['alice', 'jwt', ['read']],
  ]);
  assert.is(log.principals[1]!.claims.iss, ISSUER);
});

test('an HS256 server accepts its own tokens and refuses RS256 ones', async () => {
  assert.is((await call(hsServer, '/echo?name=x', await jwt(new TextEncoder().encode(HS_SECRET), 'HS256'))).status, 200);
  assert.is((await call(hsServer, '/echo?name=x', await jwt(rs.privateKey, 'RS256'))).status, 401);
  assert.is((await call(hsServer, '/echo?name=x', await jwt(new TextEncoder().encode(`${HS_SECRET}?`), 'HS256'))).status, 401);
  // the same secret, another HMAC algorithm than the allow-list's
  assert.is((await call(hsServer, '/echo?name=x', await jwt(new TextEncoder().encode(HS_SECRET), 'HS512'))).status, 401);
});

test('valid credentials without the route\'s right are 403 AUTH_FORBIDDEN; the route never runs', async () => {
  const { status, body, challenge } = await call(server, '/echo?name=x', await jwt(rs.privateKey, 'RS256', { roles: ['write'] }));
  assert.is(status, 403);
  assert.is(body.error.code, 'AUTH_FORBIDDEN');
  assert.is(body.error.info.right, 'read');
  assert.is(challenge, null);
  assert.equal(log.ran, []);
});

test('a static token limited to some rights, and a custom authorize hook, decide the 403', async () => {
  const limited = createHttpHandler({ prefix: '/api', auth: staticTokenAuth({ token: STATIC, rights: ['write'] }), routes: testRoutes(log) });
  const request = (path: string) => new Request(`http://test/api${path}`, { headers: { authorization: `Bearer ${STATIC}` } });
  assert.is((await limited(request('/echo?name=x'))).status, 403);
  const hooked = createHttpHandler({ prefix: '/api', auth: staticTokenAuth({ token: STATIC }), routes: testRoutes(log), authorize: (_p, right) => right !== 'read' });
  assert.is((await hooked(request('/echo?name=x'))).status, 403);
  assert.is((await hooked(request('/health'))).status, 200);
  assert.equal(log.ran, []);
});

test('a public route needs no credentials', async () => {
  assert.equal((await call(server, '/health')).body, { ok: true });
});

test('a key set URL that cannot be fetched is 503 TRANSPORT_UNAVAILABLE, not the token\'s fault', async () => {
  const closed = await serve(createHttpHandler({ routes: testRoutes(log), auth: staticTokenAuth({ token: STATIC }) }), 'node');
  const jwksUrl = `${closed.url}/.well-known/jwks.json`;
  await closed.close();
  const unreachable = createHttpHandler({ prefix: '/api', routes: testRoutes(log),
    auth: jwtAuth({ jwks: jwksUrl, algorithms: ['RS256'], issuer: ISSUER, audience: AUDIENCE }) });
  const response = await unreachable(new Request('http://test/api/echo?name=x', { headers: { authorization: `Bearer ${await jwt(rs.privateKey, 'RS256')}` } }));
  const { error } = await response.json() as { error: { code: string; info: { phase: string } } };
  assert.is(response.status, 503);
  assert.equal([error.code, error.info.phase], ['TRANSPORT_UNAVAILABLE', 'jwks']);
  assert.equal(log.ran, []);
});

test('jwtAuth refuses options that would weaken it', () => {
  const refuses = (options: Parameters<typeof jwtAuth>[0], what: string) => {
    try {
      jwtAuth(options);
      assert.unreachable(what);
    } catch (error) {
      assert.ok(isEntitySyncError(error, 'INVALID_OPTION'), `${what}: ${String(error)}`);
    }
  };
  refuses({ secret: HS_SECRET, algorithms: [] }, 'no algorithms');
  refuses({ secret: HS_SECRET, algorithms: ['none'] }, 'alg none');
  refuses({ secret: HS_SECRET, algorithms: ['RS256'] }, 'a secret with RS256');
  refuses({ jwks: { keys: [] }, algorithms: ['HS256'] }, 'a key set with HS256');
  refuses({ secret: 'short', algorithms: ['HS256'] }, 'a short secret');
  refuses({ secret: HS_SECRET, jwks: { keys: [] }, algorithms: ['HS256'] }, 'two keys');
});

test.run();
