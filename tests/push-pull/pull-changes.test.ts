// pullChanges: the changes since a checkpoint, in order, in pages, from the capture installPushPull
// sets up: every row once as it is now, deletes as ids, nothing of a rolled-back transaction,
// writes that bypass the unit of work included, excluded properties never sent.
import 'reflect-metadata';
import { EntitySync, installPushPull, pullChanges, type PulledChanges } from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'pp_project' })
@SyncModel({ naturalKey: ['name'] })
class PpProject {
  @PrimaryKey() id!: number;
  @Property({ unique: true }) name!: string;
}

@Entity({ tableName: 'pp_todo' })
@SyncModel({ exclude: ['secret'] })
class PpTodo {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property() title!: string;
  @Property() done: boolean = false;
  @ManyToOne(() => PpProject, { nullable: true }) project?: PpProject;
  @Property({ nullable: true }) secret?: string;
}

@Entity({ tableName: 'pp_unserved' })
@SyncModel()
class PpUnserved {
  @PrimaryKey() id!: number;
}

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** Every change since `checkpoint`, pulled in pages of `limit`: the answers, and the rows as a client would hold them. */
async function pullAll(orm: MikroORM, checkpoint: string | null, limit: number, models = ['PpProject', 'PpTodo']) {
  const answers: PulledChanges[] = [];
  const held = new Map<string, Record<string, unknown>>();
  for (let more = true; more;) {
    const answer = await pullChanges(orm.em.fork(), { checkpoint, limit, models, served: ['PpProject', 'PpTodo'] });
    answers.push(answer);
    for (const { model, upserted, deleted } of answer.changes) {
      for (const doc of upserted) held.set(`${model}:${JSON.stringify(doc.id)}`, doc);
      for (const id of deleted) held.delete(`${model}:${JSON.stringify(id)}`);
    }
    ({ checkpoint, hasMore: more } = answer);
  }
  return { answers, held, checkpoint };
}

const sentIds = (answers: PulledChanges[]) => answers.flatMap((answer) => answer.changes.flatMap((c) => [...c.upserted.map((doc) => `${c.model}:${String(doc.id)}`), ...c.deleted.map((id) => `${c.model}:${String(id)}:deleted`)]));

for (const backend of testBackends()) {
  const test = suite(`push/pull: pullChanges [${backend.name}]`);
  let orm: MikroORM;
  const table = (name: string) => `"${orm.config.get('schema') ?? 'public'}".${name}`;

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [PpProject, PpTodo, PpUnserved], extensions: [EntitySync] });
    const em = orm.em.fork();
    // rows from before the capture was installed
    const apollo = em.create(PpProject, { id: 1, name: 'Apollo' });
    em.create(PpTodo, { id: uuid(1), title: 'launch', project: apollo, secret: 'hunter2' });
    await em.flush();
    assert.equal(await installPushPull(orm.em.fork(), { models: ['PpProject', 'PpTodo'] }), ['PpProject', 'PpTodo']);
  });
  test.after.each(() => orm.close());

  test('the first pull gets the rows from before the install and after it, each once, in pages, the excluded property never', async () => {
    const em = orm.em.fork();
    for (let i = 2; i <= 6; i++) em.create(PpTodo, { id: uuid(i), title: `task ${i}`, project: 1, secret: `s${i}` });
    await em.flush();
    const { answers, held, checkpoint } = await pullAll(orm, null, 2);
    assert.equal(answers.map((answer) => answer.hasMore), [true, true, true, false]);
    assert.equal(sentIds(answers).sort(), ['PpProject:1', ...[1, 2, 3, 4, 5, 6].map((i) => `PpTodo:${uuid(i)}`)].sort());
    assert.equal(held.get(`PpTodo:${JSON.stringify(uuid(1))}`), { id: uuid(1), title: 'launch', done: false, project: 1 });
    assert.ok(JSON.stringify(answers).indexOf('hunter2') === -1 && JSON.stringify(answers).indexOf('secret') === -1, 'the excluded property travelled');
    assert.type(checkpoint, 'string');
    const again = await pullChanges(orm.em.fork(), { checkpoint, served: ['PpProject', 'PpTodo'] });
    assert.equal([again.changes, again.hasMore, again.checkpoint], [[], false, checkpoint]);
  });

  test('after a checkpoint: an updated row comes once as it is now, a deleted one as its id, a re-keyed one as both', async () => {
    const { checkpoint } = await pullAll(orm, null, 100);
    const em = orm.em.fork();
    const todo = await em.findOneOrFail(PpTodo, uuid(1));
    todo.title = 'launch!';
    await em.flush();
    todo.done = true;
    await em.flush();
    em.create(PpTodo, { id: uuid(7), title: 'gone soon' });
    await em.flush();
    await em.nativeDelete(PpTodo, { id: uuid(7) });
    await em.getConnection().execute(`update ${table('pp_project')} set name = 'Artemis' where id = 1`);
    await em.getConnection().execute(`update ${table('pp_todo')} set id = '${uuid(11)}' where id = '${uuid(1)}'`);
    const { answers, held } = await pullAll(orm, checkpoint, 100);
    assert.equal(sentIds(answers).sort(), ['PpProject:1', `PpTodo:${uuid(1)}:deleted`, `PpTodo:${uuid(11)}`, `PpTodo:${uuid(7)}:deleted`].sort());
    assert.equal(held.get(`PpTodo:${JSON.stringify(uuid(11))}`), { id: uuid(11), title: 'launch!', done: true, project: 1 });
    assert.not.ok(held.has(`PpTodo:${JSON.stringify(uuid(1))}`));
    assert.equal(held.get('PpProject:1'), { id: 1, name: 'Artemis' });
  });

  test('the changes of one transaction come in sequence order across pages, when the sequence gains a digit (96 ... 105) too', async () => {
    const { checkpoint } = await pullAll(orm, null, 100);
    await orm.em.getConnection().execute(`select setval('${table('entity_sync_row_version_seq')}', 95)`);
    await orm.em.fork().transactional(async (tx) => {
      for (let i = 10; i < 20; i++) tx.create(PpTodo, { id: uuid(i), title: `batch ${i}` });
    });
    const { answers, held } = await pullAll(orm, checkpoint, 3);
    assert.equal(sentIds(answers).sort(), Array.from({ length: 10 }, (_, i) => `PpTodo:${uuid(10 + i)}`).sort());
    assert.equal([...held.values()].map((doc) => doc.title).sort(), Array.from({ length: 10 }, (_, i) => `batch ${10 + i}`));
  });

  test('a rolled-back transaction leaves nothing to pull; writes that bypass the unit of work are pulled', async () => {
    const { checkpoint } = await pullAll(orm, null, 100);
    await orm.em.fork().transactional(async (tx) => {
      tx.create(PpTodo, { id: uuid(8), title: 'never' });
      await tx.flush();
      throw new Error('rolled back');
    }).catch(() => undefined);
    const quiet = await pullChanges(orm.em.fork(), { checkpoint, served: ['PpProject', 'PpTodo'] });
    assert.equal(quiet.changes, []);
    await orm.em.fork().nativeUpdate(PpTodo, { id: uuid(1) }, { done: true });
    await orm.em.getConnection().execute(`insert into ${table('pp_todo')} (id, title, done) values ('${uuid(9)}', 'raw', false)`);
    const { answers } = await pullAll(orm, checkpoint, 100);
    assert.equal(sentIds(answers).sort(), [`PpTodo:${uuid(1)}`, `PpTodo:${uuid(9)}`]);
  });

  test('a checkpoint the server did not hand out, a model it does not serve, a table without the capture: typed, with what to do', async () => {
    for (const checkpoint of ['garbage', '1.2.3.4', '1.', '2.1.1', '1.-1.1']) {
      const error = await pullChanges(orm.em.fork(), { checkpoint }).then(() => undefined, (e: unknown) => e);
      assert.ok(isEntitySyncError(error, 'PULL_CHECKPOINT_INVALID'), `${checkpoint}: ${String(error)}`);
    }
    const notServed = await pullChanges(orm.em.fork(), { models: ['PpUnserved'], served: ['PpProject', 'PpTodo'] }).then(() => undefined, (e: unknown) => e);
    assert.ok(isEntitySyncError(notServed, 'PUSH_PULL_MODEL_NOT_SERVED'), String(notServed));
    assert.match((notServed as Error).message, 'PpUnserved');
    const notInstalled = await pullChanges(orm.em.fork(), { models: ['PpUnserved'] }).then(() => undefined, (e: unknown) => e);
    assert.ok(isEntitySyncError(notInstalled, 'PUSH_PULL_NOT_INSTALLED'), String(notInstalled));
    assert.match((notInstalled as Error).message, 'installPushPull');
    const badLimit = await pullChanges(orm.em.fork(), { limit: 0 }).then(() => undefined, (e: unknown) => e);
    assert.ok(isEntitySyncError(badLimit, 'INVALID_OPTION'), String(badLimit));
  });

  test.run();
}
