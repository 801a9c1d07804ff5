// WatermelonDB's sync protocol: an unmodified WatermelonDB client (0.28, LokiJS adapter in
// memory) runs synchronize() against watermelonRoutes on a real HTTP server, with a JWT, and the
// rows on PostgreSQL are checked after each step: the first sync, local creates, updates and
// deletes pushed, server changes and deletes pulled, a conflict under each policy, a malformed push.
import 'reflect-metadata';
import { createHttpHandler, jwtAuth, type ErrorBody } from '@entity-sync/adapters/http';
import { EntitySync, installPushPull, syncStates, watermelonRoutes, type WatermelonRoutesOptions } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import type { Database as WatermelonDatabase, Model as WatermelonModel } from '@nozbe/watermelondb';
import { SignJWT } from 'jose';
import { createRequire } from 'node:module';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';

// WatermelonDB ships CommonJS only
const require = createRequire(import.meta.url);
const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb') as typeof import('@nozbe/watermelondb');
const { synchronize } = require('@nozbe/watermelondb/sync') as typeof import('@nozbe/watermelondb/sync/index.js');
const LokiJSAdapter = (require('@nozbe/watermelondb/adapters/lokijs') as { default: new (options: object) => never }).default;
(require('@nozbe/watermelondb/utils/common/logger') as { default: { silence(): void } }).default.silence();

@Entity({ tableName: 'wm_task' })
@SyncModel({ tenant: 'org' })
class WmTask {
  @PrimaryKey({ type: 'text' }) id!: string;
  @Property() org!: string;
  @Property() title!: string;
  @Property() isDone: boolean = false;
  @Property({ type: 'text', nullable: true }) note: string | null = null;
}

// the client's schema: its own table name, the columns by their database names, no tenant column
class Task extends Model {
  static override table = 'tasks';
}
const schema = appSchema({
  version: 1,
  tables: [tableSchema({ name: 'tasks', columns: [{ name: 'title', type: 'string' }, { name: 'is_done', type: 'boolean' }, { name: 'note', type: 'string', isOptional: true }] })],
});

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';
const token = () => new SignJWT({ scope: 'push-pull:pull push-pull:push', tenants: ['acme'], sync_roles: ['member'] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setIssuer('app').setAudience('sync').setIssuedAt().setExpirationTime('10m').sign(new TextEncoder().encode(SECRET));

/** A push the server refused: its status and error code. */
class PushRefused extends Error {
  constructor(readonly status: number, readonly code: string) {
    super(`push refused: ${status} ${code}`);
  }
}

let clients = 0;

/** A WatermelonDB client of `url`: its database, and `sync()` calling synchronize() with fetch (`beforePush` runs between its pull and its push). */
function watermelonClient(url: string, bearer: string, device: string) {
  // in Node Loki keeps the data in memory: its autosave timer would only hold the process open
  const adapter = new LokiJSAdapter({ schema, useWebWorker: false, useIncrementalIndexedDB: false, dbName: `wm-client-${++clients}`, extraLokiOptions: { autosave: false } });
  const database: WatermelonDatabase = new Database({ adapter, modelClasses: [Task] });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, 'x-sync-client': device };
  const pushed: unknown[] = [];
  let beforePush: (() => Promise<void>) | undefined;
  const sync = () => synchronize({
    database, sendCreatedAsUpdated: true,
    pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
      const response = await fetch(`${url}/sync/watermelon/pull`, { method: 'POST', headers, body: JSON.stringify({ lastPulledAt, schemaVersion, migration }) });
      if (!response.ok) throw new Error(`pull failed: ${response.status} ${await response.text()}`);
      return response.json();
    },
    pushChanges: async ({ changes, lastPulledAt }) => {
      await beforePush?.();
      pushed.push(JSON.parse(JSON.stringify(changes)));
      const response = await fetch(`${url}/sync/watermelon/push?lastPulledAt=${lastPulledAt}`, { method: 'POST', headers, body: JSON.stringify({ changes }) });
      if (!response.ok) throw new PushRefused(response.status, ((await response.json()) as ErrorBody).error.code);
      return response.json();
    },
  });
  const tasks = () => database.get<WatermelonModel>('tasks');
  return {
    database, sync, pushed,
    set beforePush(hook: (() => Promise<void>) | undefined) { beforePush = hook; },
    /** The client's rows: id, title, is_done, note, sorted by id. */
    rows: async () => (await tasks().query().fetch()).map((task) => task._raw as unknown as Record<string, unknown>)
      .map((raw) => [raw.id, raw.title, raw.is_done, raw.note]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
    create: (id: string, values: Record<string, unknown>) => database.write(() => tasks().create((task) => {
      task._raw.id = id;
      for (const [column, value] of Object.entries(values)) task._setRaw(column, value as string);
    })),
    update: async (id: string, values: Record<string, unknown>) => {
      const task = await tasks().find(id);
      await database.write(() => task.update(() => { for (const [column, value] of Object.entries(values)) task._setRaw(column, value as string); }));
    },
    remove: async (id: string) => {
      const task = await tasks().find(id);
      await database.write(() => task.markAsDeleted());
    },
  };
}

for (const backend of testBackends()) {
  const test = suite(`push/pull: a WatermelonDB client [${backend.name}]`);
  let orm: MikroORM;
  let server: Served | undefined;
  let bearer: string;

  /** The server's rows of a tenant: id, title, isDone, note, sorted by id. */
  const serverRows = async (org = 'acme') => (await orm.em.fork().find(WmTask, { org }, { orderBy: { id: 'asc' } })).map((task) => [task.id, task.title, task.isDone, task.note]);
  const start = async (options: WatermelonRoutesOptions = {}) => {
    server = await serve(createHttpHandler({
      prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'], issuer: 'app', audience: 'sync' }),
      routes: watermelonRoutes(orm, { models: ['WmTask'], tables: { WmTask: { table: 'tasks' } }, ...options }),
    }), 'node');
    return watermelonClient(server.url, bearer, 'phone-1');
  };
  const serverEdit = async (id: string, values: Partial<WmTask>) => {
    const em = orm.em.fork();
    em.assign(await em.findOneOrFail(WmTask, id), values);
    await em.flush();
  };

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [WmTask], extensions: [EntitySync] });
    const em = orm.em.fork();
    em.create(WmTask, { id: 's1', org: 'acme', title: 'buy milk', isDone: false, note: null });
    em.create(WmTask, { id: 's2', org: 'acme', title: 'call bob', isDone: true, note: 'at noon' });
    em.create(WmTask, { id: 'g1', org: 'globex', title: 'globex secret', isDone: false, note: null });
    await em.flush();
    await installPushPull(orm.em.fork(), { models: ['WmTask'] });
    bearer = await token();
  });
  test.after.each(async () => {
    await server?.close();
    server = undefined;
    await orm.close();
  });

  test('the first sync brings the tenant\'s rows (none of another tenant); a local create and update are pushed to PostgreSQL', async () => {
    const client = await start();
    await client.sync();
    assert.equal(await client.rows(), [['s1', 'buy milk', false, null], ['s2', 'call bob', true, 'at noon']]);
    await client.create('c1', { title: 'from the phone', is_done: false, note: 'new' });
    await client.update('s1', { title: 'buy oat milk', is_done: true });
    await client.sync();
    // what the client sent: its raw records, _status and _changed included (the server drops them)
    const sent = client.pushed[0] as { tasks: { created: { id: string; _status: string }[]; updated: { id: string; _changed: string }[] } };
    assert.equal(sent.tasks.created.map((raw) => [raw.id, raw._status]), [['c1', 'created']]);
    assert.equal(sent.tasks.updated.map((raw) => [raw.id, raw._changed]), [['s1', 'title,is_done']]);
    assert.equal(await serverRows(), [['c1', 'from the phone', false, 'new'], ['s1', 'buy oat milk', true, null], ['s2', 'call bob', true, 'at noon']]);
    assert.equal(await serverRows('globex'), [['g1', 'globex secret', false, null]]);
    await client.sync();
    assert.equal(await client.rows(), await serverRows());
    // the device's sync state: the timestamp of its last pull as a checkpoint, and its push
    const states = await syncStates(orm.em.fork(), { user: 'ada' });
    assert.equal(states.map((state) => [state.client, state.model, /^1\.\d+$/.test(state.checkpoint ?? ''), !!state.pushedAt]), [['phone-1', 'WmTask', true, true]]);
  });

  test('a server change and a server delete are pulled by the next sync; a local delete is pushed', async () => {
    const client = await start();
    await client.sync();
    await serverEdit('s2', { title: 'call bob again', note: null });
    const em = orm.em.fork();
    em.remove(await em.findOneOrFail(WmTask, 's1'));
    em.create(WmTask, { id: 's3', org: 'acme', title: 'water plants', isDone: false, note: null });
    await em.flush();
    await client.sync();
    assert.equal(await client.rows(), [['s2', 'call bob again', true, null], ['s3', 'water plants', false, null]]);
    await client.remove('s3');
    await client.sync();
    assert.equal(await serverRows(), [['s2', 'call bob again', true, null]]);
    assert.equal(await client.rows(), [['s2', 'call bob again', true, null]]);
  });

  test('a conflict under server-wins: the push fails 409 PUSH_CONFLICT, nothing written; the next synchronize() pulls, merges per column and ends equal', async () => {
    const client = await start();
    await client.sync();
    await client.update('s2', { title: 'call bob on monday' });
    // the server changes the row between the client's pull and its push
    client.beforePush = () => serverEdit('s2', { title: 'call bob tonight', note: 'server note' });
    const refused = await client.sync().then(() => undefined, (error: unknown) => error);
    assert.instance(refused, PushRefused);
    assert.equal([(refused as PushRefused).status, (refused as PushRefused).code], [409, 'PUSH_CONFLICT']);
    assert.equal(await serverRows(), [['s1', 'buy milk', false, null], ['s2', 'call bob tonight', true, 'server note']]);
    client.beforePush = undefined;
    await client.sync();
    // WatermelonDB keeps the columns changed locally (title) and takes the server's others (note), then pushes the merged row
    assert.equal(await serverRows(), [['s1', 'buy milk', false, null], ['s2', 'call bob on monday', true, 'server note']]);
    assert.equal(await client.rows(), await serverRows());
  });

  test('a conflict under client-wins: the client\'s whole row is written at the first sync', async () => {
    const client = await start({ conflicts: { WmTask: 'client-wins' } });
    await client.sync();
    await client.update('s2', { title: 'call bob on monday' });
    client.beforePush = () => serverEdit('s2', { title: 'call bob tonight', note: 'server note' });
    await client.sync();
    assert.equal(await serverRows(), [['s1', 'buy milk', false, null], ['s2', 'call bob on monday', true, 'at noon']]);
    client.beforePush = undefined;
    await client.sync();
    assert.equal(await client.rows(), await serverRows());
  });

  test('a malformed push (an unknown column, an unknown table) is 400 naming it and writes nothing; a bad lastPulledAt is 400 naming the field', async () => {
    const client = await start();
    await client.sync();
    const before = await serverRows();
    const push = (body: object, query = '') => fetch(`${server!.url}/sync/watermelon/push${query}`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify(body),
    });
    const answer = async (response: Response) => [response.status, ((await response.json()) as ErrorBody).error] as const;
    const [status, error] = await answer(await push({
      lastPulledAt: 1, changes: { tasks: { created: [{ id: 'x1', title: 'ok', is_done: false, colour: 'red', _status: 'created', _changed: '' }], updated: [{ id: 's1', title: 'changed' }], deleted: ['s2'] } },
    }));
    assert.equal([status, error.code, error.info?.field], [400, 'REQUEST_INVALID', 'changes.tasks.created.0']);
    assert.match(error.message, /colour is not a column of table tasks/);
    const [tableStatus, tableError] = await answer(await push({ changes: { projects: { created: [], updated: [], deleted: [] } } }, '?lastPulledAt=1'));
    assert.equal([tableStatus, tableError.info?.field], [400, 'changes.projects']);
    const [stampStatus, stampError] = await answer(await push({ changes: {} }, '?lastPulledAt=-3'));
    assert.equal([stampStatus, stampError.info?.field], [400, 'lastPulledAt']);
    const pulled = await fetch(`${server!.url}/sync/watermelon/pull?lastPulledAt=soon`, { headers: { authorization: `Bearer ${bearer}` } });
    assert.equal([pulled.status, ((await pulled.json()) as ErrorBody).error.info?.field], [400, 'lastPulledAt']);
    assert.equal(await serverRows(), before);
  });

  test('a pushed row of another tenant is not written and comes back in experimentalRejectedIds', async () => {
    await start();
    const response = await fetch(`${server!.url}/sync/watermelon/push?lastPulledAt=1`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, 'x-sync-client': 'phone-2' },
      body: JSON.stringify({ changes: { tasks: { created: [], updated: [{ id: 'g1', title: 'defaced', is_done: true, note: null, _status: 'updated', _changed: 'title' }], deleted: [] } } }),
    });
    assert.equal([response.status, await response.json()], [200, { experimentalRejectedIds: { tasks: ['g1'] } }]);
    assert.equal(await serverRows('globex'), [['g1', 'globex secret', false, null]]);
  });

  test('GET pull: raw records in updated with text ids, the timestamp a safe number; a first sync comes whole, later ones stop at a transaction past maxPullChanges and say hasMore', async () => {
    await start({ maxPullChanges: 1 });
    type Pulled = { changes: { tasks: { created: unknown[]; updated: { id: string; title: string }[]; deleted: string[] } }; timestamp: number; hasMore: boolean };
    // the first sync reads the tables themselves: one answer, past maxPullChanges too
    const first = await (await fetch(`${server!.url}/sync/watermelon/pull?lastPulledAt=null&tables=tasks`, { headers: { authorization: `Bearer ${bearer}` } })).json() as Pulled;
    assert.equal([first.changes.tasks.updated.map((raw) => raw.id).sort(), first.hasMore], [['s1', 's2'], false]);
    for (let i = 0; i < 5; i++) {
      const em = orm.em.fork();
      em.create(WmTask, { id: `n${i}`, org: 'acme', title: `task ${i}`, isDone: false, note: null });
      await em.flush();
    }
    const seen = new Map<string, unknown>(first.changes.tasks.updated.map((raw) => [raw.id, raw.title]));
    const stamps: number[] = [first.timestamp];
    let lastPulledAt: number | null = first.timestamp;
    let stopped = 0;
    for (let more = true, round = 0; more && round < 20; round++) {
      const response = await fetch(`${server!.url}/sync/watermelon/pull?lastPulledAt=${lastPulledAt}&tables=tasks`, { headers: { authorization: `Bearer ${bearer}` } });
      const body = await response.json() as Pulled;
      assert.equal(body.changes.tasks.created, []);
      for (const raw of body.changes.tasks.updated) seen.set(raw.id, raw.title);
      assert.ok(Number.isSafeInteger(body.timestamp) && body.timestamp > 0, String(body.timestamp));
      if (body.hasMore) stopped++;
      stamps.push(body.timestamp);
      ({ timestamp: lastPulledAt, hasMore: more } = body);
    }
    assert.ok(stopped > 0, 'no answer stopped at maxPullChanges');
    assert.equal(stamps, [...stamps].sort((a, b) => a - b));
    assert.equal([...seen.keys()].sort(), ['n0', 'n1', 'n2', 'n3', 'n4', 's1', 's2']);
  });

  test.run();
}
