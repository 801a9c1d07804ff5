// Tombstone retention: deletes older than the window are forgotten by pruneTombstones; a client
// whose checkpoint is older than a forgotten delete is told to pull again from the start
// (PULL_RESYNC_REQUIRED) rather than keep a row the server deleted; newer clients go on.
import 'reflect-metadata';
import { EntitySync, installPushPull, pruneTombstones, pullChanges, pushChanges, ROW_VERSION_TABLE } from '@entity-sync/adapters/mikro-orm';
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

  test('a push behind a forgotten delete must resync, instead of bringing the row back; the pruned push log replays no more', async () => {
    const old = await pullChanges(orm.em.fork(), {});
    const pushed = await pushChanges(orm.em.fork(), { clientId: 'phone', mutationId: 'm1', checkpoint: old.checkpoint, changes: [{ model: 'TbItem', id: 1, doc: { name: 'mine' } }] });
    assert.equal(pushed.results.map((result) => result.status), ['updated']);
    await orm.em.fork().nativeDelete(TbItem, { id: 2 });
    const schema = orm.config.get('schema') ?? 'public';
    const log = async () => (await orm.em.getConnection().execute<{ n: string }[]>(`select count(*)::text as n from "${schema}".entity_sync_push`))[0]!.n;
    assert.is(await log(), '1');
    await pruneTombstones(orm.em.fork(), { olderThan: new Date(Date.now() + 1000) });
    assert.is(await log(), '0', 'the push log older than the window is gone');
    const revive = await pushChanges(orm.em.fork(), { clientId: 'phone', mutationId: 'm2', checkpoint: old.checkpoint, changes: [{ model: 'TbItem', id: 2, doc: { name: 'back' } }] })
      .catch((error: unknown) => error);
    assert.ok(isEntitySyncError(revive) && revive.code === 'PULL_RESYNC_REQUIRED', String(revive));
    assert.equal(await orm.em.fork().count(TbItem, { id: 2 }), 0, 'the deleted row stays deleted');
    assert.equal((await orm.em.getConnection().execute<{ n: string }[]>(`select count(*)::text as n from "${schema}".${ROW_VERSION_TABLE} where key = '[2]'`))[0]!.n, '0');
    // after pulling from the start, the client's push goes through
    const fresh = await pullChanges(orm.em.fork(), {});
    const again = await pushChanges(orm.em.fork(), { clientId: 'phone', mutationId: 'm3', checkpoint: fresh.checkpoint, changes: [{ model: 'TbItem', id: 3, doc: { name: 'fine' } }] });
    assert.equal(again.results.map((result) => result.status), ['updated']);
  });

  test.run();
}
