// An unmodified RxDB client in a real browser (headless Chromium), bundled by esbuild and served
// with its page by the same HTTP server on 127.0.0.1 as rxdbRoutes, replicating with
// rxdbReplicationHandlers and the browser's own fetch and EventSource (which sends no headers:
// the stream takes the token as ?access_token=). The page gets the server's rows at start,
// pushes its changes into the database, hears of the server's changes live (no reSync), deletes
// go both ways, and a conflict ends with the server's row (server-wins).
import 'reflect-metadata';
import { createHttpHandler, jwtAuth, type HttpHandler } from '@entity-sync/adapters/http';
import { EntitySync, installPushPull, rxdbRoutes, type LiveStreamRoutes } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends, until } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { SignJWT } from 'jose';
import type { BrowserContext, Page } from 'playwright-core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';
import { bundleClient, chromiumAvailable, launchChromium, type Chromium } from './browser/chromium.js';
import type { PageDoc, PageStart, RxdbPage } from './browser/client.js';

@Entity({ tableName: 'browser_todo' })
@SyncModel()
class BrowserTodo {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() title!: string;
  @Property() done!: boolean;
}

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';
const token = () => new SignJWT({ scope: 'push-pull:pull push-pull:push', tenants: [], sync_roles: [] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setIssuer('app').setAudience('sync').setExpirationTime('10m')
  .sign(new TextEncoder().encode(SECRET));

// the page's waits, and the test's waits for the page
const PAGE_MS = 10_000;
const PAGE_HTML = '<!doctype html><html><head><meta charset="utf-8"><title>rxdb</title><script type="module" src="/client.js"></script></head><body></body></html>';

/** What reached the sync routes: method, path, whether a token came in the header or in ?access_token=. */
interface Seen { method: string; path: string; header: boolean; query: boolean }

/** The page at `/`, its bundle at `/client.js`, and `sync` for every other path, on one origin; `seen` records what reached `sync`. */
function site(sync: HttpHandler, bundle: string, seen: Seen[]): HttpHandler {
  const handler = async (request: Request) => {
    const url = new URL(request.url);
    if (url.pathname === '/') return new Response(PAGE_HTML, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    if (url.pathname === '/client.js') return new Response(bundle, { headers: { 'content-type': 'text/javascript; charset=utf-8' } });
    if (url.pathname === '/favicon.ico') return new Response(null, { status: 204 });
    seen.push({ method: request.method, path: url.pathname, header: request.headers.has('authorization'), query: url.searchParams.has('access_token') });
    return sync(request);
  };
  return Object.assign(handler, { prefix: '' });
}

const todos = async (orm: MikroORM) => (await orm.em.fork().find(BrowserTodo, {}, { orderBy: { id: 'asc' } }))
  .map((todo) => ({ id: todo.id, title: todo.title, done: todo.done }));

if (chromiumAvailable()) {
  let bundle: Promise<string> | undefined;
  for (const backend of testBackends()) {
    const test = suite(`push/pull: RxDB in headless Chromium over rxdbRoutes [${backend.name}]`);
    let chromium: Chromium | undefined;
    let orm: MikroORM | undefined;
    let routes: LiveStreamRoutes | undefined;
    let server: Served | undefined;
    let context: BrowserContext | undefined;
    let page: Page | undefined;
    let seen: Seen[] = [];

    /** Opens the page and starts its replication of BrowserTodo; the stream off when `live` is false. */
    async function startPage(live = true): Promise<void> {
      context = await chromium!.browser.newContext();
      page = await context.newPage();
      page.setDefaultTimeout(PAGE_MS);
      page.on('pageerror', (error) => console.warn('page error', error));
      await page.goto(`${server!.url}/`, { waitUntil: 'load', timeout: PAGE_MS });
      await page.waitForFunction(() => 'rxdbPage' in globalThis, undefined, { timeout: PAGE_MS });
      const options: PageStart = { model: 'BrowserTodo', token: await token(), live };
      await onPage((rxdb, [start, ms]: [PageStart, number]) => rxdb.start(start, ms), [options, PAGE_MS]);
    }
    /** Runs `call` in the page on its `rxdbPage` and `arg` (plain JSON: the function is sent as source, so it sees nothing of the test's scope). */
    const onPage = <T, A>(call: (rxdb: RxdbPage, arg: A) => Promise<T> | T, arg: A): Promise<T> =>
      page!.evaluate(`(${call.toString()})(globalThis.rxdbPage, ${JSON.stringify(arg)})`) as Promise<T>;
    const docs = () => onPage((rxdb) => rxdb.docs(), null);
    const doc = (id: string) => onPage((rxdb, key: string) => rxdb.doc(key), id);
    const inSync = () => onPage((rxdb, ms: number) => rxdb.inSync(ms), PAGE_MS);
    const pageHas = (what: string, check: (doc: PageDoc | null) => boolean, id: string) =>
      until(`the page to have ${what}`, async () => check(await doc(id)), PAGE_MS);

    test.before(async () => {
      bundle ??= bundleClient();
      await bundle;
      chromium = await launchChromium();
    });
    test.after(async () => {
      await chromium?.close();
      chromium = undefined;
    });
    test.before.each(async () => {
      seen = [];
      orm = await backend.createOrm({ entities: [BrowserTodo], extensions: [EntitySync] });
      const em = orm.em.fork();
      for (let id = 1; id <= 5; id++) em.create(BrowserTodo, { id, title: `todo ${id}`, done: id % 2 === 0 });
      await em.flush();
      await installPushPull(orm.em.fork());
      routes = rxdbRoutes(orm);
      const sync = createHttpHandler({ prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'], issuer: 'app', audience: 'sync' }), routes });
      server = await serve(site(sync, await bundle!, seen), 'node');
    });
    test.after.each(async () => {
      // the page's replication first, so that no request is left half way when the server goes
      if (page && !page.isClosed()) await onPage((rxdb) => rxdb?.stop(), null).catch(() => undefined);
      await context?.close();
      context = page = undefined;
      await routes?.close();
      await server?.close();
      await orm?.close();
      routes = server = orm = undefined;
    });

    test('the first sync brings every server row into the page (pages of 2); an insert and an update made in the page reach the database', async () => {
      await startPage();
      assert.equal(await docs(), (await todos(orm!)).map((todo) => ({ ...todo, id: String(todo.id) })));
      await onPage((rxdb) => rxdb.insert({ id: '6', title: 'from the browser', done: false }), null);
      await onPage((rxdb) => rxdb.patch('1', { title: 'changed in the browser', done: true }), null);
      await inSync();
      const rows = await todos(orm!);
      assert.equal(rows.find((row) => row.id === 6), { id: 6, title: 'from the browser', done: false });
      assert.equal(rows.find((row) => row.id === 1), { id: 1, title: 'changed in the browser', done: true });
      assert.equal(await onPage((rxdb) => rxdb.errors(), null), []);
    });

    test('a server change reaches the page live through the browser\'s EventSource (its token as ?access_token=), without reSync', async () => {
      await startPage();
      const em = orm!.em.fork();
      const todo = await em.findOneOrFail(BrowserTodo, 2);
      todo.title = 'changed on the server';
      em.create(BrowserTodo, { id: 7, title: 'new on the server', done: false });
      await em.flush();
      await pageHas('the server\'s update', (row) => row?.title === 'changed on the server', '2');
      await pageHas('the server\'s new row', (row) => row?.title === 'new on the server', '7');
      // the stream came with the token in the query (the browser's EventSource sends no header), the posts with the header
      const streams = seen.filter((request) => request.path === '/sync/rxdb/BrowserTodo/pull/stream');
      assert.ok(streams.length >= 1, 'the page opened the stream');
      assert.ok(streams.every((request) => request.method === 'GET' && request.query && !request.header), 'the stream carries ?access_token= only');
      assert.ok(seen.filter((request) => request.method === 'POST').every((request) => request.header && !request.query), 'pulls and pushes carry the header only');
    });

    test('deletes go both ways: the server\'s leaves the page live, the page\'s leaves the database', async () => {
      await startPage();
      await orm!.em.fork().nativeDelete(BrowserTodo, { id: 3 });
      await pageHas('dropped the server\'s delete', (row) => row === null, '3');
      await onPage((rxdb) => rxdb.remove('4'), null);
      await inSync();
      assert.equal((await todos(orm!)).map((row) => row.id), [1, 2, 5]);
      assert.equal((await docs()).map((row) => row.id), ['1', '2', '5']);
    });

    test('a conflict with server-wins: the page changed a row the server changed before it pulled; the page ends with the server\'s row', async () => {
      // no stream: the page cannot hear of the server's change before it pushes its own
      await startPage(false);
      await orm!.em.fork().nativeUpdate(BrowserTodo, { id: 5 }, { title: 'server edit' });
      await onPage((rxdb) => rxdb.patch('5', { title: 'page edit' }), null);
      await inSync();
      assert.equal((await todos(orm!)).find((row) => row.id === 5)?.title, 'server edit');
      await pageHas('the server\'s row', (row) => row?.title === 'server edit', '5');
      assert.ok(seen.every((request) => !request.path.endsWith('/pull/stream')), 'the page opened no stream');
    });

    test.run();
  }
}
