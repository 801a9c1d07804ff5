// fromEntity: a table as a diff source, read a page at a time in key order; keyed by numbers it
// says it is sorted and the diff merges it (pages of 700 over 2,500 rows), keyed by text it is
// hashed; a filter and a choice of fields; options that name nothing are refused.
import 'reflect-metadata';
import { EntitySync, fromEntity } from '@entity-sync/adapters/mikro-orm';
import { diff, fromRecords, isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'es_item' })
@SyncModel({ naturalKey: ['code'] })
class EsItem {
  @PrimaryKey() id!: number;
  @Property({ unique: true }) code!: string;
  @Property() label!: string;
  @Property() active: boolean = true;
}

for (const backend of testBackends()) {
  const test = suite(`diff: fromEntity [${backend.name}]`);
  let orm: MikroORM;

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [EsItem], extensions: [EntitySync] });
    await orm.em.getConnection().execute(`insert into "${orm.config.get('schema') ?? 'public'}".es_item (id, code, label, active) ` +
      "select i, 'c' || lpad(i::text, 5, '0'), 'item ' || i, i % 10 <> 0 from generate_series(1, 2500) i");
  });
  test.after.each(() => orm.close());

  test('keyed by its numeric id it is merged, page after page; only the differences come back', async () => {
    const items = fromEntity(orm.em.fork(), EsItem, { key: 'id', fields: ['label'], where: { active: true }, pageSize: 700 });
    assert.equal(items.sortedBy, 'id');
    const should = Array.from({ length: 2500 }, (_, i) => ({ id: i + 1, label: i + 1 === 7 ? 'changed' : `item ${i + 1}` })).filter((row) => row.id % 10 !== 0 && row.id !== 2000 - 1);
    should.push({ id: 3000, label: 'new' });
    const result = await diff(fromRecords('should', should, { sortedBy: 'id' }), items, { key: 'id' });
    assert.is(result.strategy, 'merge');
    assert.equal(result.actions.map((action) => [action.action, action.key[0]]), [['update', 7], ['delete', 1999], ['create', 3000]]);
    assert.is(result.counts.unchanged, 2250 - 2);
  });

  test('keyed by its natural key (text) it is hashed; records carry the fields asked for', async () => {
    const items = fromEntity(orm.em.fork(), EsItem, { fields: ['label'], where: { id: { $lte: 3 } } });
    assert.is(items.sortedBy, undefined, 'a text key is not declared sorted');
    const rows = [];
    for await (const row of items.records()) rows.push(row);
    assert.equal(rows, [{ code: 'c00001', label: 'item 1' }, { code: 'c00002', label: 'item 2' }, { code: 'c00003', label: 'item 3' }]);
    for (const options of [{ key: 'nope' }, { fields: ['nope'] }, { pageSize: 0 }]) {
      let error: unknown;
      try {
        fromEntity(orm.em.fork(), EsItem, options);
      } catch (caught) {
        error = caught;
      }
      assert.ok(isEntitySyncError(error) && error.code === 'INVALID_OPTION', JSON.stringify(options));
    }
  });

  test.run();
}
