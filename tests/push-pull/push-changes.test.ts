// pushChanges: a client's changes in one transaction with a result per row; a replay of the same
// mutation writes nothing; a row the server changed after the client's checkpoint is a conflict,
// resolved by the model's policy; a malformed change or a refused write fails the whole push.
import 'reflect-metadata';
import { EntitySync, installPushPull, pullChanges, pushChanges, type PushChange } from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'pc_task' })
@SyncModel({ exclude: ['internal'] })
class PcTask {
  @PrimaryKey({ type: 'text' }) id!: string;
  @Property() title!: string;
  @Property() done: boolean = false;
  @Property({ nullable: true }) internal?: string;
}

@Entity({ tableName: 'pc_hidden' })
@SyncModel()
class PcHidden {
  @PrimaryKey() id!: number;
}

const served = ['PcTask'];

for (const backend of testBackends()) {
  const test = suite(`push/pull: pushChanges [${backend.name}]`);
  let orm: MikroORM;

  const tasks = async () => (await orm.em.fork().find(PcTask, {}, { orderBy: { id: 'asc' } })).map((task) => [task.id, task.title, task.done]);
  const checkpointNow = async () => {
    let checkpoint: string | null = null;
    for (let more = true; more;) ({ checkpoint, hasMore: more } = await pullChanges(orm.em.fork(), { checkpoint, served }));
    return checkpoint;
  };
  const push = (changes: PushChange[], options: { mutationId?: string; checkpoint?: string | null; clientId?: string; conflicts?: Parameters<typeof pushChanges>[1]['conflicts'] } = {}) =>
    pushChanges(orm.em.fork(), { clientId: options.clientId ?? 'phone-1', mutationId: options.mutationId ?? crypto.randomUUID(), checkpoint: options.checkpoint, changes, served, conflicts: options.conflicts });
  const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [PcTask, PcHidden], extensions: [EntitySync] });
    const em = orm.em.fork();
    em.create(PcTask, { id: 'a', title: 'water plants', internal: 'x' });
    em.create(PcTask, { id: 'b', title: 'call mum' });
    await em.flush();
    await installPushPull(orm.em.fork(), { models: served });
  });
  test.after.each(() => orm.close());

  test('created, updated and deleted rows, each with its result; the client\'s own pushes are no conflicts on its next push', async () => {
    const checkpoint = await checkpointNow();
    const first = await push([
      { model: 'PcTask', id: 'c', doc: { title: 'buy bread', done: false } },
      { model: 'PcTask', id: 'a', doc: { title: 'water plants', done: true } },
      { model: 'PcTask', id: 'b', deleted: true },
      { model: 'PcTask', id: 'zz', deleted: true },
    ], { checkpoint });
    assert.equal(first, { replayed: false, results: [
      { model: 'PcTask', id: 'c', status: 'created' }, { model: 'PcTask', id: 'a', status: 'updated' },
      { model: 'PcTask', id: 'b', status: 'deleted' }, { model: 'PcTask', id: 'zz', status: 'deleted' },
    ] });
    assert.equal(await tasks(), [['a', 'water plants', true], ['c', 'buy bread', false]]);
    // the same client, still at its old checkpoint, changes its own rows again: no conflict
    const second = await push([{ model: 'PcTask', id: 'a', doc: { title: 'water all plants' } }], { checkpoint });
    assert.equal(second.results.map((result) => result.status), ['updated']);
    // another client at that checkpoint meets them as conflicts
    const other = await push([{ model: 'PcTask', id: 'a', doc: { title: 'mine' } }], { checkpoint, clientId: 'laptop-2' });
    assert.equal(other.results, [{ model: 'PcTask', id: 'a', status: 'conflict', resolution: 'server', server: { id: 'a', title: 'water all plants', done: true } }]);
  });

  test('a replay of the same client and mutation id returns the first result and writes nothing', async () => {
    const checkpoint = await checkpointNow();
    const first = await push([{ model: 'PcTask', id: 'c', doc: { title: 'buy bread' } }], { mutationId: 'm-1', checkpoint });
    await orm.em.fork().nativeUpdate(PcTask, { id: 'c' }, { title: 'changed by the app' });
    const replay = await push([{ model: 'PcTask', id: 'c', doc: { title: 'buy bread' } }, { model: 'PcTask', id: 'a', deleted: true }], { mutationId: 'm-1', checkpoint });
    assert.equal(replay, { replayed: true, results: first.results });
    assert.equal(await tasks(), [['a', 'water plants', false], ['b', 'call mum', false], ['c', 'changed by the app', false]]);
    // the same mutation id of another client is another mutation
    const elsewhere = await push([{ model: 'PcTask', id: 'd', doc: { title: 'new' } }], { mutationId: 'm-1', clientId: 'laptop-2', checkpoint });
    assert.is(elsewhere.replayed, false);
  });

  test('a row the app changed after the checkpoint: the server wins by default, or the client, or a function merges', async () => {
    const checkpoint = await checkpointNow();
    await orm.em.fork().nativeUpdate(PcTask, { id: { $in: ['a', 'b'] } }, { done: true });
    const kept = await push([{ model: 'PcTask', id: 'a', doc: { title: 'client title', done: false } }], { checkpoint });
    assert.equal(kept.results, [{ model: 'PcTask', id: 'a', status: 'conflict', resolution: 'server', server: { id: 'a', title: 'water plants', done: true } }]);
    assert.ok(JSON.stringify(kept).indexOf('internal') === -1, 'an excluded property went back to the client');
    const clientWins = await push([{ model: 'PcTask', id: 'a', doc: { title: 'client title', done: false } }], { checkpoint, conflicts: { PcTask: 'client-wins' } });
    assert.equal(clientWins.results, [{ model: 'PcTask', id: 'a', status: 'conflict', resolution: 'client', server: { id: 'a', title: 'client title', done: false } }]);
    const seen: unknown[] = [];
    const merged = await push([{ model: 'PcTask', id: 'b', doc: { title: 'call dad', done: false } }], {
      checkpoint, conflicts: { PcTask: (conflict) => { seen.push(conflict); return { title: conflict.client!.title, done: conflict.server!.done }; } },
    });
    assert.equal(seen, [{ model: 'PcTask', id: 'b', server: { id: 'b', title: 'call mum', done: true }, client: { title: 'call dad', done: false } }]);
    assert.equal(merged.results[0]!.resolution, 'merged');
    assert.equal(await tasks(), [['a', 'client title', false], ['b', 'call dad', true]]);
  });

  test('a malformed change, a model not served, or a write the database refuses fails the whole push, nothing written; the mutation id stays free', async () => {
    const before = await tasks();
    const valid: PushChange = { model: 'PcTask', id: 'n', doc: { title: 'new' } };
    const strange = await failure(push([valid, { model: 'PcTask', id: 'a', doc: { title: 'x', colour: 'red' } }], { mutationId: 'm-9' }));
    assert.ok(isEntitySyncError(strange, 'PUSH_CHANGE_INVALID'), String(strange));
    assert.match((strange as Error).message, 'colour');
    const secret = await failure(push([valid, { model: 'PcTask', id: 'a', doc: { internal: 'y' } }]));
    assert.ok(isEntitySyncError(secret, 'PUSH_CHANGE_INVALID'), 'an excluded property cannot be pushed');
    const hidden = await failure(push([valid, { model: 'PcHidden', id: 1, deleted: true }]));
    assert.ok(isEntitySyncError(hidden, 'PUSH_PULL_MODEL_NOT_SERVED'), String(hidden));
    const refused = await failure(push([valid, { model: 'PcTask', id: 'm', doc: { title: null } }]));
    assert.ok(isEntitySyncError(refused, 'PUSH_REJECTED'), String(refused));
    assert.equal(await tasks(), before);
    const retried = await push([valid], { mutationId: 'm-9' });
    assert.equal([retried.replayed, retried.results.map((result) => result.status)], [false, ['created']]);
  });

  test.run();
}
