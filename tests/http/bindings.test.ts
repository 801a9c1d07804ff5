// node:http, Express and Fastify serve the same Fetch handler under its prefix: routing, bodies,
// bytes, and NDJSON streaming with backpressure and client disconnects, the same on each.
import { createHttpHandler, staticTokenAuth } from '@entity-sync/adapters/http';
import { get, type IncomingMessage } from 'node:http';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { until } from '../support/until.js';
import { FILE, RouteLog, testRoutes } from './routes.js';
import { BINDINGS, serve, type Served } from './serve.js';

const TOKEN = 'static-token-0123456789abcdef';
const auth = { authorization: `Bearer ${TOKEN}` };

/** A raw GET that returns the response as soon as its headers arrive, its body unread. */
function open(url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => get(url, { headers: auth, agent: false }, resolve).once('error', reject));
}

for (const binding of BINDINGS) {
  const test = suite(`HTTP binding: ${binding}`);
  let log: RouteLog;
  let server: Served;

  test.before.each(async () => {
    log = new RouteLog();
    server = await serve(createHttpHandler({ prefix: '/api', auth: staticTokenAuth({ token: TOKEN }), routes: testRoutes(log) }), binding);
  });
  test.after.each(async () => {
    await server.close();
  });

  test('routes are served under the prefix; outside it is 404 (or the app\'s own route)', async () => {
    const echo = await fetch(`${server.url}/api/echo?name=ada&n=3`, { headers: auth });
    assert.is(echo.status, 200);
    assert.equal(await echo.json(), { name: 'ada', n: 3, subject: 'static-token' });

    const unknown = await fetch(`${server.url}/api/nothing-here`, { headers: auth });
    assert.is(unknown.status, 404);
    assert.is(((await unknown.json()) as { error: { code: string } }).error.code, 'ROUTE_NOT_FOUND');

    for (const path of ['/echo?name=ada', '/apiecho?name=ada', '/elsewhere']) {
      const outside = await fetch(`${server.url}${path}`, { headers: auth });
      await outside.arrayBuffer();
      assert.is(outside.status, 404, path);
    }
    assert.equal(log.ran, ['echo']);
    if (binding !== 'node') assert.is(await (await fetch(`${server.url}/outside`)).text(), 'the app');
  });

  test('a JSON body reaches the route whatever body parser the framework has', async () => {
    const response = await fetch(`${server.url}/api/items`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ items: [{ code: 'fr' }, { code: 'de' }] }),
    });
    assert.is(response.status, 200);
    assert.equal(await response.json(), { codes: ['fr', 'de'] });
  });

  test('bytes stream through with their length, unchanged', async () => {
    const response = await fetch(`${server.url}/api/files/0badf00d`, { headers: auth });
    assert.is(response.status, 200);
    assert.is(response.headers.get('content-length'), String(FILE.byteLength));
    assert.equal(new Uint8Array(await response.arrayBuffer()), FILE);
  });

  // `ndjson` one item a line, `ndjsonBatches` a page of lines at a time
  for (const path of ['rows', 'pages']) {
    test(`NDJSON (/${path}) streams with backpressure: a reader that stops reading stops the producer, and gets every row when it goes on`, async () => {
      const total = 2000;
      const size = 32 * 1024;
      const response = await open(`${server.url}/api/${path}?count=${total}&size=${size}`);
      assert.is(response.headers['content-type'], 'application/x-ndjson; charset=utf-8');
      response.pause();
      // wait until the producer has stopped: the socket buffers are full and nobody reads
      let last = -1;
      let still = 0;
      await until('the producer stalls', () => {
        still = log.produced === last ? still + 1 : 0;
        last = log.produced;
        return still >= 6;
      }, 30_000, 50);
      // 64 MB of rows; what the kernel's socket buffers hold is a few MB at most
      assert.ok(log.produced < total / 4, `the producer ran ahead of the reader: ${log.produced} of ${total} rows produced`);
      assert.not.ok(log.producerFinished);
      let text = '';
      response.setEncoding('utf8');
      let lines = 0;
      response.on('data', (chunk: string) => {
        text += chunk;
        const parts = text.split('\n');
        text = parts.pop()!;
        lines += parts.length;
      });
      response.resume();
      await new Promise((resolve) => response.once('end', resolve));
      assert.is(lines, total);
      assert.is(log.produced, total);
      assert.ok(log.producerFinished);
    });

    test(`a client that disconnects mid-stream (/${path}) stops the producer: its finally runs`, async () => {
      const response = await open(`${server.url}/api/${path}`);
      await new Promise((resolve) => response.once('data', resolve));
      response.destroy();
      await until('the producer\'s finally ran', () => log.producerFinished, 10_000, 20);
      const stoppedAt = log.produced;
      assert.ok(Number.isFinite(stoppedAt) && stoppedAt > 0);
    });
  }

  test('a client that disconnects before the answer aborts the route\'s signal', async () => {
    const request = get(`${server.url}/api/wait`, { headers: auth, agent: false });
    request.once('error', () => undefined);
    await until('the route runs', () => log.ran.includes('wait'), 10_000, 20);
    request.destroy();
    await until('the route\'s signal aborts', () => log.signalAborted, 10_000, 20);
  });

  test.run();
}
