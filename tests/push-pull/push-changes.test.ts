// pushChanges: a client's changes in one transaction with a result per row; a replay of the same
// mutation writes nothing; a row the server changed after the client's checkpoint is a conflict,
// resolved by the model's policy; a malformed change or a refused write fails the whole push.
import 'reflect-metadata';
import { EntitySync, installPushPull, pullChanges, pushChanges, type PushChange } from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { BeforeCreate, BeforeUpdate, Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
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

@Entity({ tableName: 'pc_event' })
@SyncModel()
class PcEvent {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @Property({ type: 'Date', nullable: true }) at?: Date;
  /** What the app's hooks saw in `at` when the unit of work wrote the row. */
  static seen: string[] = [];

  @BeforeCreate()
  @BeforeUpdate()
  see() {
    PcEvent.seen.push(this.at instanceof Date ? 'Date' : typeof this.at);
  }
}

@Entity({ tableName: 'pc_slot' })
@SyncModel()
class PcSlot {
  @PrimaryKey({ type: 'text' }) room!: string;
  @PrimaryKey() hour!: number;
  @Property() label!: string;
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
    orm = await backend.createOrm({ entities: [PcTask, PcHidden, PcEvent, PcSlot], extensions: [EntitySync] });
    const em = orm.em.fork();
    em.create(PcTask, { id: 'a', title: 'water plants', internal: 'x' });
    em.create(PcTask, { id: 'b', title: 'call mum' });
    await em.flush();
    await installPushPull(orm.em.fork(), { models: [...served, 'PcEvent', 'PcSlot'] });
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

  test('a pushed timestamp becomes a Date of the entity; an id the client chose moves the sequence past it; a value that is no date fails the push', async () => {
    const pushEvents = (changes: PushChange[]) => pushChanges(orm.em.fork(), { clientId: 'phone-1', mutationId: crypto.randomUUID(), changes, served: ['PcEvent'] });
    const { results } = await pushEvents([{ model: 'PcEvent', id: 40, doc: { name: 'launch', at: '2024-05-01T10:00:00.250+00:00' } }, { model: 'PcEvent', id: 41, doc: { name: 'landing', at: 1714600000000 } }]);
    assert.equal(results.map((result) => result.status), ['created', 'created']);
    // an update of one too, through assign
    PcEvent.seen = [];
    const update = await pushEvents([{ model: 'PcEvent', id: 40, doc: { name: 'launch', at: '2024-05-01T10:00:00.250Z' } }, { model: 'PcEvent', id: 41, doc: { name: 'landing', at: '2024-05-02T08:00:00Z' } }]);
    assert.equal([update.results.map((result) => result.status), PcEvent.seen], [['updated', 'updated'], ['Date']], 'the hooks of the unit of work saw a Date (the unchanged row wrote nothing)');
    const events = await orm.em.fork().find(PcEvent, {}, { orderBy: { id: 'asc' } });
    assert.ok(events.every((event) => event.at instanceof Date), 'the entity holds Dates');
    assert.equal(events.map((event) => event.at!.toISOString()), ['2024-05-01T10:00:00.250Z', '2024-05-02T08:00:00.000Z']);
    // the app's own insert draws the next id: not one the client took
    const em = orm.em.fork();
    const mine = em.create(PcEvent, { name: 'the app\'s' });
    await em.flush();
    assert.is(mine.id, 42);
    const bad = await failure(pushEvents([{ model: 'PcEvent', id: 43, doc: { name: 'never', at: 'soon' } }]));
    assert.ok(isEntitySyncError(bad) && bad.code === 'PUSH_CHANGE_INVALID' && /at is "soon", not a date/.test(bad.message), String(bad));
    assert.is(await orm.em.fork().count(PcEvent, {}), 3);
  });

  test('a model with a composite key: created, updated, deleted and a conflict by the list of its key values; a lone value is no id', async () => {
    const em = orm.em.fork();
    for (const [room, hour, label] of [['r1', 10, 'standup'], ['r2', 8, 'gym'], ['r2', 9, 'review']] as const) em.create(PcSlot, { room, hour, label });
    await em.flush();
    const slots = () => orm.em.fork().find(PcSlot, {}, { orderBy: { room: 'asc', hour: 'asc' } }).then((rows) => rows.map((row) => [row.room, row.hour, row.label]));
    let checkpoint: string | null = null;
    for (let more = true; more;) ({ checkpoint, hasMore: more } = await pullChanges(orm.em.fork(), { checkpoint, served: ['PcSlot'] }));
    // the app moves the review after the client's checkpoint
    await orm.em.fork().nativeUpdate(PcSlot, { room: 'r2', hour: 9 }, { label: 'review (moved)' });
    const pushSlots = (changes: PushChange[]) => pushChanges(orm.em.fork(), { clientId: 'phone-1', mutationId: crypto.randomUUID(), checkpoint, changes, served: ['PcSlot'] });
    const { results } = await pushSlots([
      { model: 'PcSlot', id: ['r1', 9], doc: { label: 'coffee' } },
      { model: 'PcSlot', id: ['r1', 10], doc: { room: 'r1', hour: 10, label: 'standup (short)' } },
      { model: 'PcSlot', id: ['r2', 8], deleted: true },
      { model: 'PcSlot', id: ['r2', 9], doc: { label: 'review (mine)' } },
    ]);
    assert.equal(results.map((result) => [result.id, result.status]), [[['r1', 9], 'created'], [['r1', 10], 'updated'], [['r2', 8], 'deleted'], [['r2', 9], 'conflict']]);
    assert.equal(results[3]!.server, { room: 'r2', hour: 9, label: 'review (moved)' });
    assert.equal(await slots(), [['r1', 9, 'coffee'], ['r1', 10, 'standup (short)'], ['r2', 9, 'review (moved)']]);
    for (const id of ['r1', ['r1'], ['r1', 9, 3], ['r1', { hour: 9 }]] as unknown as PushChange['id'][]) {
      const bad = await failure(pushSlots([{ model: 'PcSlot', id, doc: { label: 'x' } }]));
      assert.ok(isEntitySyncError(bad) && bad.code === 'PUSH_CHANGE_INVALID' && /list of its 2 key values \(room, hour\)/.test(bad.message), `${JSON.stringify(id)}: ${String(bad)}`);
    }
    assert.equal(await slots(), [['r1', 9, 'coffee'], ['r1', 10, 'standup (short)'], ['r2', 9, 'review (moved)']]);
  });

  test.run();
}
