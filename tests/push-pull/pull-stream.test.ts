// GET <prefix>/pull/stream over a real HTTP server on 127.0.0.1: server-sent events that tell a
// client when to pull. A client gets `resync` at connect, `change` with the models when models it
// watches change for its tenant (never for another tenant's rows or models it did not ask for), the
// heartbeat comments, and is refused without the pull right. Clients share one LISTEN, which goes
// away with the last client; on PostgreSQL a LISTEN connection that breaks is listened again and
// every client told to resync.
import 'reflect-metadata';
import { createHttpHandler, jwtAuth } from '@entity-sync/adapters/http';
import { EntitySync, grantPermissions, installPushPull, pullStreamRoutes, type LiveStreamRoutes } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends, until } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';

@Entity({ tableName: 'ps_task' })
@SyncModel()
class PsTask {
  @PrimaryKey() id!: number;
  @Property() title!: string;
}

@Entity({ tableName: 'ps_memo' })
@SyncModel({ tenant: 'org' })
class PsMemo {
  @PrimaryKey({ type: 'text' }) id!: string;
  @Property() org!: string;
  @Property() text!: string;
}

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';
const token = (rights: string, tenants: string[] = ['acme'], roles: string[] = []) => new SignJWT({ scope: rights, tenants, sync_roles: roles })
  .setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setIssuer('app').setAudience('sync').setExpirationTime('10m')
  .sign(new TextEncoder().encode(SECRET));

interface SseEvent { event: string; data: string }

/** An open stream, read in the background: the events so far, the comment lines, and how to hang up. */
interface OpenStream { status: number; events: SseEvent[]; comments: number; close(): void }

async function openStream(url: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  const abort = new AbortController();
  const response = await fetch(url, { headers, signal: abort.signal });
  const stream: OpenStream = { status: response.status, events: [], comments: 0, close: () => abort.abort() };
  if (!response.ok) {
    await response.text();
    return stream;
  }
  void (async () => {
    let buffer = '';
    for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(':')) stream.comments++;
        else {
          const field = (name: string) => block.split('\n').find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2) ?? '';
          stream.events.push({ event: field('event'), data: field('data') });
        }
      }
    }
  })().catch(() => undefined);
  return stream;
}

for (const backend of testBackends()) {
  const test = suite(`push/pull: the live stream GET /pull/stream [${backend.name}]`);
  let orm: MikroORM;
  let server: Served;
  let live: LiveStreamRoutes;
  const streams: OpenStream[] = [];

  const listening = async () => {
    const sql = backend.name === 'pglite'
      ? "SELECT count(*)::int AS n FROM pg_listening_channels() c WHERE c = 'entity_sync_push_pull'"
      : "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'LISTEN \"entity_sync_push_pull\"'";
    return ((await orm.em.fork().getConnection().execute(sql)) as { n: number }[])[0]!.n;
  };
  const open = async (query: string, rights = 'push-pull:pull', tenants?: string[]) => {
    const stream = await openStream(`${server.url}/sync/pull/stream${query}`, { authorization: `Bearer ${await token(rights, tenants)}` });
    streams.push(stream);
    return stream;
  };
  const changes = (stream: OpenStream) => stream.events.filter((event) => event.event === 'change').map((event) => JSON.parse(event.data) as { models: string[] });

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [PsTask, PsMemo], extensions: [EntitySync] });
    await installPushPull(orm.em.fork());
    live = pullStreamRoutes(orm, { heartbeatMs: 200 });
    server = await serve(createHttpHandler({ prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'], issuer: 'app', audience: 'sync' }), routes: live }), 'node');
  });
  test.after.each(async () => {
    for (const stream of streams.splice(0)) stream.close();
    await live.close();
    await server.close();
    await orm.close();
  });

  test('a client gets resync at connect, then change events for the models it watches in its tenant only, and heartbeats', async () => {
    const all = await open('?tenant=acme');
    const tasks = await open('?models=PsTask');
    assert.equal(all.status, 200);
    await until('both streams said resync', () => all.events.length >= 1 && tasks.events.length >= 1, 5000);
    assert.equal([all.events[0]!.event, tasks.events[0]!.event], ['resync', 'resync']);
    const em = orm.em.fork();
    em.create(PsTask, { id: 1, title: 'first' });
    await em.flush();
    await until('both heard of the task', () => changes(all).length >= 1 && changes(tasks).length >= 1, 5000);
    assert.equal([changes(all)[0], changes(tasks)[0]], [{ models: ['PsTask'] }, { models: ['PsTask'] }]);
    // another tenant's memo tells nobody of acme; acme's own memo tells the acme stream, not the task-only one
    await orm.em.fork().insert(PsMemo, { id: 'g1', org: 'globex', text: 'secret' });
    await orm.em.fork().insert(PsMemo, { id: 'a1', org: 'acme', text: 'ours' });
    await until('acme heard of its memo', () => changes(all).length >= 2, 5000);
    assert.equal(changes(all).slice(1), [{ models: ['PsMemo'] }]);
    assert.equal(changes(tasks).length, 1);
    await until('heartbeats came', () => all.comments >= 2, 5000);
  });

  test('without the pull right the stream is 403, without a token 401; the token may come as access_token in the query', async () => {
    assert.equal((await open('', 'push-pull:push')).status, 403);
    assert.equal((await openStream(`${server.url}/sync/pull/stream`)).status, 401);
    // a tenant's model needs a tenant: this token has two
    assert.equal((await open('?models=PsMemo', 'push-pull:pull', ['acme', 'globex'])).status, 400);
    const queried = await openStream(`${server.url}/sync/pull/stream?models=PsTask&access_token=${await token('push-pull:pull')}`);
    streams.push(queried);
    assert.equal(queried.status, 200);
    await until('the queried stream said resync', () => queried.events.length >= 1, 5000);
  });

  test('all clients share one LISTEN, and it goes away when the last client hangs up', async () => {
    assert.equal(await listening(), 0);
    const first = await open('?models=PsTask');
    const second = await open('?models=PsTask');
    await until('both connected', () => first.events.length >= 1 && second.events.length >= 1, 5000);
    assert.equal(await listening(), 1);
    first.close();
    await orm.em.fork().insert(PsTask, { id: 2, title: 'after one left' });
    await until('the other still hears', () => changes(second).length >= 1, 5000);
    second.close();
    await until('the LISTEN ended with the last client', async () => (await listening()) === 0, 5000);
  });

  if (backend.name !== 'pglite') {
    test('a LISTEN connection that breaks is listened again, every client is told to resync, and later changes still come', async () => {
      const stream = await open('?models=PsTask');
      await until('connected', () => stream.events.length >= 1, 5000);
      await orm.em.fork().getConnection().execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN \"entity_sync_push_pull\"'");
      await until('a second resync', () => stream.events.filter((event) => event.event === 'resync').length >= 2, 10_000);
      await orm.em.fork().insert(PsTask, { id: 3, title: 'after the break' });
      await until('the change after the break came', () => changes(stream).length >= 1, 5000);
    });
  }

  test('with permissions, a stream watches only the models the user\'s roles may pull; naming a denied one is 403', async () => {
    const guarded = pullStreamRoutes(orm, { heartbeatMs: 200, permissions: true });
    const other = await serve(createHttpHandler({ prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'], issuer: 'app', audience: 'sync' }), routes: guarded }), 'node');
    try {
      await grantPermissions(orm.em.fork(), { role: 'tasks', model: 'PsTask', pull: true });
      const openAs = async (query: string, roles: string[]) => {
        const stream = await openStream(`${other.url}/sync/pull/stream${query}`, { authorization: `Bearer ${await token('push-pull:pull', ['acme'], roles)}` });
        streams.push(stream);
        return stream;
      };
      const denied = await fetch(`${other.url}/sync/pull/stream?models=PsMemo&tenant=acme`, { headers: { authorization: `Bearer ${await token('push-pull:pull', ['acme'], ['tasks'])}` } });
      const body = await denied.json() as { error: { code: string; message: string } };
      assert.equal([denied.status, body.error.code], [403, 'PUSH_PULL_FORBIDDEN']);
      assert.match(body.error.message, 'PsMemo');
      const tasksOnly = await openAs('?tenant=acme', ['tasks']);
      await until('the stream said resync', () => tasksOnly.events.length >= 1, 5000);
      await orm.em.fork().insert(PsMemo, { id: 'a1', org: 'acme', text: 'ours' });
      await orm.em.fork().insert(PsTask, { id: 7, title: 'seen' });
      await until('the task was heard of', () => changes(tasksOnly).length >= 1, 5000);
      // the memo committed first: had it been watched, it would have come by now
      assert.equal(changes(tasksOnly).flatMap((change) => change.models), ['PsTask']);
      // granted, the next connection watches memos too
      await grantPermissions(orm.em.fork(), { role: 'tasks', model: 'PsMemo', pull: true });
      const both = await openAs('?tenant=acme', ['tasks']);
      await until('the second stream said resync', () => both.events.length >= 1, 5000);
      await orm.em.fork().insert(PsMemo, { id: 'a2', org: 'acme', text: 'now seen' });
      await until('the memo was heard of', () => changes(both).length >= 1, 5000);
      assert.equal(changes(both)[0], { models: ['PsMemo'] });
    } finally {
      for (const stream of streams.splice(0)) stream.close();
      await other.close();
    }
  });

  test.run();
}
