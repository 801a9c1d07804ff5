// The token endpoint: credentials checked by the app's callback become an HS256 JWT that jwtAuth
// accepts (subject, rights, tenants, roles, expiry); wrong credentials are 401; a refresh asks the
// app again, so a user who lost access gets no new token; an expired token cannot be refreshed.
import { createHttpHandler, jwtAuth, staticTokenAuth, tokenRoutes, type ErrorBody, type HttpRoutes, type TokenSubject } from '@entity-sync/adapters/http';
import { isEntitySyncError } from '@entity-sync/core';
import { decodeJwt } from 'jose';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from './serve.js';

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';
const STATIC = 'static-token-0123456789abcdef';
const users: Record<string, { password: string; subject: TokenSubject } | undefined> = {};
const test = suite('HTTP token endpoint');
let server: Served;

const whoAmI: HttpRoutes = (route) => {
  route.get('/me', { right: 'push-pull:pull' }, async ({ principal }) => Response.json({ subject: principal!.subject, rights: principal!.rights, tenants: principal!.claims.tenants }));
};

async function start(expiresInSeconds = 900) {
  server = await serve(createHttpHandler({
    prefix: '/sync',
    auth: [jwtAuth({ secret: SECRET, algorithms: ['HS256'], issuer: 'app', audience: 'sync' }), staticTokenAuth({ token: STATIC })],
    routes: [tokenRoutes({
      secret: SECRET, issuer: 'app', audience: 'sync', expiresInSeconds,
      verify: (credentials) => {
        const user = users[String(credentials.username)];
        return user && user.password === credentials.password ? user.subject : null;
      },
      refresh: (subject) => users[subject.subject]?.subject ?? null,
    }), whoAmI],
  }), 'node');
}

const call = (path: string, options: { body?: unknown; token?: string } = {}) => fetch(`${server.url}/sync/${path}`, {
  method: options.body === undefined && path === 'me' ? 'GET' : 'POST',
  body: options.body === undefined ? (path === 'me' ? undefined : '{}') : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
  headers: { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
});
const tokenOf = async (response: Response) => ((await response.json()) as { token: string }).token;
const codeOf = async (response: Response) => [response.status, ((await response.json()) as ErrorBody).error.code];

test.before.each(() => {
  users.ada = { password: 'correct horse', subject: { subject: 'ada', rights: ['push-pull:pull'], tenants: ['acme', 'globex'], roles: ['editor'] } };
});
test.after.each(() => server.close());

test('right credentials get a token carrying subject, rights, tenants and roles, which jwtAuth accepts; wrong ones are 401', async () => {
  await start();
  const issued = await call('auth/token', { body: { username: 'ada', password: 'correct horse' } });
  assert.is(issued.status, 200);
  const { token, tokenType, expiresAt } = await issued.json() as { token: string; tokenType: string; expiresAt: string };
  assert.is(tokenType, 'Bearer');
  const claims = decodeJwt(token);
  assert.equal([claims.sub, claims.iss, claims.aud, claims.scope, claims.tenants, claims.sync_roles], ['ada', 'app', 'sync', 'push-pull:pull', ['acme', 'globex'], ['editor']]);
  assert.is(claims.exp! - claims.iat!, 900);
  assert.is(new Date(expiresAt).getTime(), claims.exp! * 1000);
  const me = await call('me', { token });
  assert.equal(await me.json(), { subject: 'ada', rights: ['push-pull:pull'], tenants: ['acme', 'globex'] });
  assert.equal(await codeOf(await call('auth/token', { body: { username: 'ada', password: 'wrong' } })), [401, 'AUTH_INVALID']);
  assert.equal(await codeOf(await call('auth/token', { body: { username: 'eve' } })), [401, 'AUTH_INVALID']);
  assert.equal(await codeOf(await call('auth/token', { body: '["ada"]' })), [400, 'REQUEST_INVALID']);
});

test('a refresh asks the app again: new claims for a user still there, 401 for one removed; a static token cannot refresh', async () => {
  await start();
  const token = await tokenOf(await call('auth/token', { body: { username: 'ada', password: 'correct horse' } }));
  users.ada!.subject.tenants = ['acme'];
  const renewed = await call('auth/refresh', { token });
  assert.is(renewed.status, 200);
  assert.equal(decodeJwt(await tokenOf(renewed)).tenants, ['acme']);
  delete users.ada;
  assert.equal(await codeOf(await call('auth/refresh', { token })), [401, 'AUTH_INVALID']);
  assert.equal(await codeOf(await call('auth/refresh', { token: STATIC })), [401, 'AUTH_INVALID']);
  assert.equal(await codeOf(await call('auth/refresh', {})), [401, 'AUTH_REQUIRED']);
});

test('an expired token is refused, and cannot be refreshed', async () => {
  await start(1);
  const token = await tokenOf(await call('auth/token', { body: { username: 'ada', password: 'correct horse' } }));
  await sleep(2100);
  assert.equal(await codeOf(await call('me', { token })), [401, 'AUTH_INVALID']);
  assert.equal(await codeOf(await call('auth/refresh', { token })), [401, 'AUTH_INVALID']);
});

test('a secret shorter than 32 bytes is refused', () => {
  try {
    tokenRoutes({ secret: 'short', issuer: 'app', audience: 'sync', verify: () => null });
    assert.unreachable('it accepted the secret');
  } catch (error) {
    assert.ok(isEntitySyncError(error, 'INVALID_OPTION'), String(error));
  }
});

test.run();
