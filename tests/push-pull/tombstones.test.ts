// Tombstone retention: deletes older than the window are forgotten by pruneTombstones; a client
// whose checkpoint is older than a forgotten delete is told to pull again from the start
// (PULL_RESYNC_REQUIRED) rather than keep a row the server deleted; newer clients go on.
import 'reflect-metadata';
import { EntitySync, installPushPull, pruneTombstones, pullChanges } from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'tb_item' })
@SyncModel()
class TbItem {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

for (const backend of testBackends()) {
  const test = suite(`push/pull: tombstone retention [${backend.name}]`);
  let orm: MikroORM;

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [TbItem], extensions: [EntitySync] });
    const em = orm.em.fork();
    for (let id = 1; id <= 3; id++) em.create(TbItem, { id, name: `item ${id}` });
    await em.flush();
    await installPushPull(orm.em.fork());
  });
  test.after.each(() => orm.close());

  test('a client behind a forgotten delete must resync; one past it goes on; a fresh pull has no tombstones left', async () => {
    const old = await pullChanges(orm.em.fork(), {});
    await orm.em.fork().nativeDelete(TbItem, { id: 2 });
    const recent = await pullChanges(orm.em.fork(), { checkpoint: old.checkpoint });
    assert.equal(recent.changes[0]?.deleted, [2], 'before the prune the delete is sent');
    assert.equal(await pruneTombstones(orm.em.fork(), { olderThan: 3_600_000 }), 0, 'a delete inside the window is kept');
    assert.equal(await pruneTombstones(orm.em.fork(), { olderThan: new Date(Date.now() + 1000) }), 1);
    const behind = await pullChanges(orm.em.fork(), { checkpoint: old.checkpoint }).catch((error: unknown) => error);
    assert.ok(isEntitySyncError(behind) && behind.code === 'PULL_RESYNC_REQUIRED', String(behind));
    assert.match(behind.message, 'pull from the start');
    await orm.em.fork().nativeUpdate(TbItem, { id: 3 }, { name: 'renamed' });
    const goesOn = await pullChanges(orm.em.fork(), { checkpoint: recent.checkpoint });
    assert.equal(goesOn.changes[0]?.upserted, [{ id: 3, name: 'renamed' }], 'a client that had the delete goes on');
    const fresh = await pullChanges(orm.em.fork(), {});
    assert.equal(fresh.changes.map((change) => [change.upserted.map((doc) => doc.id), change.deleted]), [[[1, 3], []]]);
    const bad = await pruneTombstones(orm.em.fork(), { olderThan: -5 }).catch((error: unknown) => error);
    assert.ok(isEntitySyncError(bad) && bad.code === 'INVALID_OPTION', String(bad));
  });

  test.run();
}
