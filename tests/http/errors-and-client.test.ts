// Bad requests are 400 naming the field (the route never runs), typed errors from a route keep
// their code with a mapped status, anything else is a bare 500; the client maps error JSON back
// to typed errors and a server that goes away mid-stream to TRANSPORT_UNAVAILABLE.
import { createHttpHandler, httpGetBytes, httpGetLineBatches, httpGetLines, staticTokenAuth, statusOfCode, type ErrorBody } from '@entity-sync/adapters/http';
import { isEntitySyncError, type EntitySyncError } from '@entity-sync/core';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fileURLToPath } from 'node:url';
import { CHILD_DEADLINE_MS, killAfter } from '../support/child-deadline.js';
import { until } from '../support/until.js';
import { FILE, RouteLog, testRoutes } from './routes.js';
import { serve, type Served } from './serve.js';

const TOKEN = 'static-token-0123456789abcdef';
const root = fileURLToPath(new URL('../..', import.meta.url));
const test = suite('HTTP errors and client');
let log: RouteLog;
let server: Served;
const unexpected: unknown[] = [];

test.before.each(async () => {
  log = new RouteLog();
  unexpected.length = 0;
  server = await serve(createHttpHandler({
    prefix: '/api', auth: staticTokenAuth({ token: TOKEN }), routes: testRoutes(log), onError: (error) => unexpected.push(error),
  }), 'node');
});
test.after.each(async () => {
  await server.close();
});

async function rejection(promise: Promise<unknown>): Promise<EntitySyncError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isEntitySyncError(error), String(error));
    return error as EntitySyncError;
  }
  throw assert.unreachable('it did not fail');
}

const drain = async (lines: AsyncIterable<string>) => {
  const read: string[] = [];
  for await (const line of lines) read.push(line);
  return read;
};

test('a malformed query, path parameter or body is 400 REQUEST_INVALID naming the field; the route never runs', async () => {
  const headers = { authorization: `Bearer ${TOKEN}` };
  const cases: [string, RequestInit | undefined, string][] = [
    ['/echo', undefined, 'name'],
    ['/echo?name=ada&n=three', undefined, 'n'],
    ['/files/not-hex', undefined, 'hash'],
    ['/items', { method: 'POST', body: JSON.stringify({ items: [{ code: 1 }] }) }, 'items.0.code'],
    ['/items', { method: 'POST', body: '{"items": [' }, '(body)'],
  ];
  for (const [path, init, field] of cases) {
    const response = await fetch(`${server.url}/api${path}`, { ...init, headers });
    const { error } = await response.json() as { error: { code: string; message: string; info: { field: string; issues: unknown[] } } };
    assert.is(response.status, 400, path);
    assert.is(error.code, 'REQUEST_INVALID', path);
    assert.is(error.info.field, field, path);
    if (field !== '(body)') assert.ok(error.message.includes(`'${field}'`) && error.info.issues.length > 0, error.message);
  }
  assert.equal(log.ran, []);
  assert.equal(unexpected, []);
});

test('a typed error from a route answers its code with the mapped status; anything else a generic 500 without detail', async () => {
  const headers = { authorization: `Bearer ${TOKEN}` };
  const mismatch = await fetch(`${server.url}/api/schema-mismatch`, { headers });
  assert.is(mismatch.status, 409);
  assert.is((await mismatch.json() as ErrorBody).error.code, 'SCHEMA_MISMATCH');
  const option = await fetch(`${server.url}/api/bad-option`, { headers });
  assert.is(option.status, 400);
  assert.is((await option.json() as ErrorBody).error.info?.option, 'models');
  const crash = await fetch(`${server.url}/api/crash`, { headers });
  const text = await crash.text();
  assert.is(crash.status, 500);
  assert.is(JSON.parse(text).error.code, 'INTERNAL_ERROR');
  assert.not.ok(text.includes('secret detail') || text.includes('.js:'), text);
  assert.is(unexpected.length, 1, 'the unexpected failure is reported to onError');
  assert.equal([statusOfCode('AUTH_REQUIRED'), statusOfCode('AUTH_FORBIDDEN'), statusOfCode('CQRS_UNKNOWN_ID')], [401, 403, 500]);
});

test('httpGetLines reads NDJSON lines as they arrive; httpGetBytes the bytes', async () => {
  const lines = await drain(httpGetLines(`${server.url}/api/rows`, { token: TOKEN, query: { count: 500, size: 3 } }));
  assert.is(lines.length, 500);
  assert.equal(JSON.parse(lines[499]!), { i: 499, pad: 'xxx' });
  // a consumer that stops early closes the connection: the producer stops
  for await (const line of httpGetLines(`${server.url}/api/rows`, { token: TOKEN })) {
    if (JSON.parse(line).i === 3) break;
  }
  await until('the producer\'s finally ran', () => log.producerFinished, 10_000, 20);
  const chunks: Uint8Array[] = [];
  for await (const chunk of httpGetBytes(`${server.url}/api/files/0badf00d`, { token: TOKEN })) chunks.push(chunk);
  assert.equal(new Uint8Array(Buffer.concat(chunks)), FILE);
});

test('httpGetLineBatches hands on the complete lines of what arrived, lines cut across chunks whole, in order', async () => {
  // lines of 5,000 characters cross the chunks the server sends and the socket reads
  const query = { count: 300, size: 5000 };
  const batches: string[][] = [];
  for await (const batch of httpGetLineBatches(`${server.url}/api/pages`, { token: TOKEN, query })) batches.push(batch);
  assert.ok(batches.every((batch) => batch.length > 0), 'an empty batch');
  assert.ok(batches.length > 1, 'everything came in one batch');
  const lines = batches.flat();
  assert.equal(lines.map((line) => JSON.parse(line).i), Array.from({ length: 300 }, (_, i) => i));
  assert.ok(lines.every((line) => JSON.parse(line).pad.length === 5000));
  assert.equal(await drain(httpGetLines(`${server.url}/api/pages`, { token: TOKEN, query })), lines);
});

test('the client raises the server\'s typed error: its code and message', async () => {
  const mismatch = await rejection(drain(httpGetLines(`${server.url}/api/schema-mismatch`, { token: TOKEN })));
  assert.is(mismatch.code, 'SCHEMA_MISMATCH');
  assert.ok(mismatch.message.includes("'country'"), mismatch.message);
  assert.is(mismatch.info.status, 409);
  assert.is((await rejection(drain(httpGetLines(`${server.url}/api/rows`)))).code, 'AUTH_REQUIRED');
  assert.is((await rejection(drain(httpGetLines(`${server.url}/api/rows`, { token: `${TOKEN}x` })))).code, 'AUTH_INVALID');
  const invalid = await rejection(drain(httpGetLines(`${server.url}/api/echo`, { token: TOKEN, query: { n: 'x' } })));
  assert.is(invalid.code, 'REQUEST_INVALID');
  assert.is(invalid.info.field, 'name');
});

test('a server that is not there, or answers without error JSON, is a typed error too', async () => {
  const plain = createServer((_request, response) => { response.writeHead(502).end('bad gateway'); });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  const port = (plain.address() as AddressInfo).port;
  const failed = await rejection(drain(httpGetLines(`http://127.0.0.1:${port}/x`)));
  assert.is(failed.code, 'HTTP_FAILED');
  assert.ok(failed.message.includes('502') && failed.message.includes('bad gateway'), failed.message);
  await new Promise((resolve) => plain.close(resolve));
  const unreachable = await rejection(drain(httpGetLines(`http://127.0.0.1:${port}/x`)));
  assert.is(unreachable.code, 'TRANSPORT_UNAVAILABLE');
  assert.is(unreachable.info.phase, 'connect');
  assert.ok(unreachable.message.includes('ECONNREFUSED'), unreachable.message);
});

test('a server process killed mid-stream is TRANSPORT_UNAVAILABLE, never a clean end', async () => {
  // a real server in its own process, serving rows until it is killed
  const source = `
    import { createHttpHandler, ndjson, staticTokenAuth } from '@entity-sync/adapters/http';
    import { toNodeListener } from '@entity-sync/adapters/http/node';
    import { createServer } from 'node:http';
    async function* rows() { for (let i = 0; ; i++) { yield { i }; if (i % 100 === 99) await new Promise((r) => setImmediate(r)); } }
    const handler = createHttpHandler({ prefix: '/api', auth: staticTokenAuth({ token: '${TOKEN}' }),
      routes: (route) => { route.get('/rows', {}, async () => ndjson(rows())); } });
    const server = createServer(toNodeListener(handler)).listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let deadlineError: Error | undefined;
  killAfter(child, CHILD_DEADLINE_MS, 'the NDJSON server', () => ({ stdout, stderr }), (error) => { deadlineError = error; });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('\n')) resolve(stdout.trim());
    });
    child.once('exit', () => reject(new Error(`the server exited before listening: ${stderr}`)));
  });
  const read: string[] = [];
  const error = await rejection((async () => {
    for await (const line of httpGetLines(`http://127.0.0.1:${port}/api/rows`, { token: TOKEN })) {
      read.push(line);
      if (read.length === 1000) child.kill('SIGKILL');
    }
  })()).finally(() => child.kill('SIGKILL'));
  await exited;
  assert.is(deadlineError, undefined);
  assert.is(error.code, 'TRANSPORT_UNAVAILABLE');
  assert.is(error.info.phase, 'response');
  assert.ok(read.length >= 1000);
});

test.run();
