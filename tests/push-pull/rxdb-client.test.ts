// A real, unmodified RxDB client (memory storage under schema validation, replicateRxCollection)
// replicating against rxdbRoutes on a real HTTP server on 127.0.0.1, with a JWT: it gets the
// server's rows at start, pushes its inserts, updates and deletes into the database, hears of the
// server's changes live through the stream (no reSync), and a conflict ends with the server's row
// (server-wins) or the client's (client-wins). A tenant's client holds its tenant's rows only.
import 'reflect-metadata';
import { createHttpHandler, jwtAuth } from '@entity-sync/adapters/http';
import { EntitySync, installPushPull, rxdbRoutes, syncStates, type LiveStreamRoutes } from '@entity-sync/adapters/mikro-orm';
import { rxdbReplicationHandlers } from '@entity-sync/adapters/rxdb';
import { SyncModel } from '@entity-sync/core';
import { testBackends, until } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { EventSource } from 'eventsource';
import { SignJWT } from 'jose';
import { createRxDatabase, type RxCollection, type RxDatabase, type RxJsonSchema } from 'rxdb';
import { replicateRxCollection, type RxReplicationState } from 'rxdb/plugins/replication';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import { wrappedValidateAjvStorage } from 'rxdb/plugins/validate-ajv';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';

@Entity({ tableName: 'rx_todo' })
@SyncModel()
class RxTodo {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() title!: string;
  @Property() done!: boolean;
}

@Entity({ tableName: 'rx_memo' })
@SyncModel()
class RxMemo {
  @PrimaryKey({ type: 'text' }) id!: string;
  @Property() text!: string;
}

@Entity({ tableName: 'rx_note' })
@SyncModel({ tenant: 'org' })
class RxNote {
  @PrimaryKey({ type: 'text' }) id!: string;
  @Property() org!: string;
  @Property() text!: string;
}

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';
const tokenFor = (tenants: string[]) => new SignJWT({ scope: 'push-pull:pull push-pull:push', tenants, sync_roles: [] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setIssuer('app').setAudience('sync').setExpirationTime('10m')
  .sign(new TextEncoder().encode(SECRET));

// only the key is required: a deleted row comes as a tombstone with the key alone
const schemas: Record<string, RxJsonSchema<any>> = {
  RxTodo: { version: 0, primaryKey: 'id', type: 'object', required: ['id'],
    properties: { id: { type: 'string', maxLength: 20 }, title: { type: 'string' }, done: { type: 'boolean' } } },
  RxMemo: { version: 0, primaryKey: 'id', type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 20 }, text: { type: 'string' } } },
  RxNote: { version: 0, primaryKey: 'id', type: 'object', required: ['id'],
    properties: { id: { type: 'string', maxLength: 20 }, org: { type: 'string' }, text: { type: 'string' } } },
};

let databases = 0;

for (const backend of testBackends()) {
  const test = suite(`push/pull: a real RxDB client over rxdbRoutes [${backend.name}]`);
  let orm: MikroORM;
  let server: Served;
  let routes: LiveStreamRoutes;
  let db: RxDatabase | undefined;
  let replication: RxReplicationState<any, any> | undefined;

  /** An RxDB database with one collection for `model`, replicating it; without the live stream when `live` is false. */
  async function startClient(model: string, options: { live?: boolean; tenants?: string[] } = {}): Promise<RxCollection> {
    db = await createRxDatabase({ name: `rxclient${++databases}`, storage: wrappedValidateAjvStorage({ storage: getRxStorageMemory() }), multiInstance: false });
    const name = model.toLowerCase();
    await db.addCollections({ [name]: { schema: schemas[model]! } });
    const collection = db[name] as RxCollection;
    const token = await tokenFor(options.tenants ?? ['acme']);
    const handlers = rxdbReplicationHandlers<any>({ url: `${server.url}/sync`, model, token, EventSource: options.live === false ? undefined : EventSource as never });
    replication = replicateRxCollection({
      collection, replicationIdentifier: `${model}@${server.url}`, retryTime: 200, live: true,
      pull: { ...handlers.pull, ...(options.live === false ? { stream$: undefined } : {}), batchSize: 2 }, push: handlers.push,
    });
    replication.error$.subscribe((error) => console.warn('replication error', error));
    await replication.awaitInitialReplication();
    return collection;
  }
  const local = async (collection: RxCollection) => (await collection.find().exec()).map((doc) => doc.toJSON()).sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const todos = async () => (await orm.em.fork().find(RxTodo, {}, { orderBy: { id: 'asc' } })).map((todo) => ({ id: todo.id, title: todo.title, done: todo.done }));

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [RxTodo, RxMemo, RxNote], extensions: [EntitySync] });
    const em = orm.em.fork();
    for (let id = 1; id <= 5; id++) em.create(RxTodo, { id, title: `todo ${id}`, done: id % 2 === 0 });
    em.create(RxMemo, { id: 'm1', text: 'memo' });
    em.create(RxNote, { id: 'a1', org: 'acme', text: 'acme note' });
    em.create(RxNote, { id: 'g1', org: 'globex', text: 'globex secret' });
    await em.flush();
    await installPushPull(orm.em.fork());
    routes = rxdbRoutes(orm, { conflicts: { RxMemo: 'client-wins' } });
    server = await serve(createHttpHandler({ prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'], issuer: 'app', audience: 'sync' }), routes }), 'node');
  });
  test.after.each(async () => {
    await replication?.cancel();
    await db?.close();
    replication = undefined;
    db = undefined;
    await routes.close();
    await server.close();
    await orm.close();
  });

  test('the first sync brings every server row (in pages: 5 rows, batches of 2); a local insert and update reach PostgreSQL', async () => {
    const collection = await startClient('RxTodo');
    assert.equal(await local(collection), (await todos()).map((todo) => ({ ...todo, id: String(todo.id) })));
    await collection.insert({ id: '6', title: 'from rxdb', done: false });
    await (await collection.findOne('1').exec())!.incrementalPatch({ title: 'changed in rxdb', done: true });
    await replication!.awaitInSync();
    const rows = await todos();
    assert.equal(rows.find((row) => row.id === 6), { id: 6, title: 'from rxdb', done: false });
    assert.equal(rows.find((row) => row.id === 1), { id: 1, title: 'changed in rxdb', done: true });
    // the user's sync state: its pulls' checkpoint and its push, for the model
    const [state, ...more] = await syncStates(orm.em.fork(), { user: 'ada' });
    assert.equal([state?.client, state?.model, more.length], ['rxdb:ada', 'RxTodo', 0]);
    assert.ok(state!.checkpoint && state!.pulledAt && state!.pushedAt, JSON.stringify(state));
  });

  test('a server change reaches the client live through the stream, without reSync; deletes go both ways', async () => {
    const collection = await startClient('RxTodo');
    const em = orm.em.fork();
    const todo = await em.findOneOrFail(RxTodo, 2);
    todo.title = 'changed on the server';
    em.create(RxTodo, { id: 7, title: 'new on the server', done: false });
    await em.flush();
    await until('the client has the server\'s change', async () => (await collection.findOne('2').exec())?.title === 'changed on the server'
      && (await collection.findOne('7').exec())?.title === 'new on the server', 10_000);
    // the server deletes a row: it goes away on the client
    await orm.em.fork().nativeDelete(RxTodo, { id: 3 });
    await until('the client dropped the server\'s delete', async () => (await collection.findOne('3').exec()) === null, 10_000);
    // the client deletes a row: it goes away in PostgreSQL
    await (await collection.findOne('4').exec())!.remove();
    await replication!.awaitInSync();
    assert.equal((await todos()).map((row) => row.id), [1, 2, 5, 7]);
  });

  test('a conflict with server-wins: the client changed a row the server changed before it pulled; it ends with the server\'s row', async () => {
    const collection = await startClient('RxTodo', { live: false });
    await orm.em.fork().nativeUpdate(RxTodo, { id: 5 }, { title: 'server edit' });
    await (await collection.findOne('5').exec())!.incrementalPatch({ title: 'client edit' });
    await replication!.awaitInSync();
    assert.equal((await todos()).find((row) => row.id === 5)?.title, 'server edit');
    await until('the client took the server\'s row', async () => (await collection.findOne('5').exec())?.title === 'server edit', 10_000);
  });

  test('a conflict with client-wins: the server ends with the client\'s row', async () => {
    const collection = await startClient('RxMemo', { live: false });
    await orm.em.fork().nativeUpdate(RxMemo, { id: 'm1' }, { text: 'server edit' });
    await (await collection.findOne('m1').exec())!.incrementalPatch({ text: 'client edit' });
    await replication!.awaitInSync();
    assert.equal((await orm.em.fork().findOneOrFail(RxMemo, 'm1')).text, 'client edit');
    assert.equal((await collection.findOne('m1').exec())?.text, 'client edit');
  });

  test('a push resent after it went through is not a conflict; a push on a stale row answers the server\'s document', async () => {
    const push = async (rows: unknown) => (await fetch(`${server.url}/sync/rxdb/RxTodo/push`, {
      method: 'POST', body: JSON.stringify(rows), headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(['acme'])}` },
    })).json();
    const rows = [{ assumedMasterState: { id: '1', title: 'todo 1', done: false, _deleted: false }, newDocumentState: { id: '1', title: 'pushed', done: false, _deleted: false } }];
    assert.equal(await push(rows), []);
    assert.equal(await push(rows), []);
    const stale = [{ assumedMasterState: rows[0]!.assumedMasterState, newDocumentState: { id: '1', title: 'stale', done: true, _deleted: false } }];
    assert.equal(await push(stale), [{ id: '1', title: 'pushed', done: false, _deleted: false }]);
    assert.equal((await todos())[0], { id: 1, title: 'pushed', done: false });
  });

  test('a tenant\'s client holds its tenant\'s rows only; a row it creates gets its tenant, which comes back live', async () => {
    const collection = await startClient('RxNote');
    assert.equal(await local(collection), [{ id: 'a1', org: 'acme', text: 'acme note' }]);
    await collection.insert({ id: 'a2', text: 'new, no tenant given' });
    await replication!.awaitInSync();
    assert.equal((await orm.em.fork().findOneOrFail(RxNote, 'a2')).org, 'acme');
    await until('the client got the row\'s tenant back', async () => (await collection.findOne('a2').exec())?.org === 'acme', 10_000);
    await orm.em.fork().insert(RxNote, { id: 'g2', org: 'globex', text: 'another globex secret' });
    await orm.em.fork().insert(RxNote, { id: 'a3', org: 'acme', text: 'acme again' });
    await until('the acme row came', async () => (await collection.findOne('a3').exec()) !== null, 10_000);
    assert.equal((await local(collection)).map((doc) => doc.id), ['a1', 'a2', 'a3']);
  });

  test.run();
}
