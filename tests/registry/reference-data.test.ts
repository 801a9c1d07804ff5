// @SyncModel({ referenceData: true }) marks what many rows point at without belonging to it.
import 'reflect-metadata';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { registerSyncModel, SyncModel, unregister, type EntitySyncError } from '@entity-sync/core';
import { EntitySchema } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { discover } from '../support/discover.js';

@Entity({ tableName: 'ref_product' })
@SyncModel({ naturalKey: ['sku'], referenceData: true })
class RefProduct {
  @PrimaryKey() id!: number;
  @Property({ unique: true }) sku!: string;
}

@Entity({ tableName: 'ref_order_line' })
@SyncModel({ referenceData: false })
class RefOrderLine {
  @PrimaryKey() id!: number;
  @ManyToOne(() => RefProduct) product!: RefProduct;
}

@Entity({ tableName: 'ref_note' })
@SyncModel({})
class RefNote {
  @PrimaryKey() id!: number;
}

@Entity({ tableName: 'ref_plain' })
class RefPlain {
  @PrimaryKey() id!: number;
}

const test = suite('@SyncModel referenceData');

test('isReferenceData tells what @SyncModel says: true, false, or nothing', async () => {
  const orm = await discover([RefProduct, RefOrderLine, RefNote, RefPlain]);
  try {
    const sync = EntitySync.of(orm);
    assert.is(sync.isReferenceData(RefProduct), true);
    assert.is(sync.isReferenceData('RefProduct'), true);
    assert.is(sync.isReferenceData(RefOrderLine), false, 'referenceData: false');
    assert.is(sync.isReferenceData(RefNote), undefined, 'no referenceData option: the delete plan decides by shape');
    assert.is(sync.isReferenceData(RefPlain), undefined, 'no @SyncModel');
    assert.is(sync.isReferenceData('NotAnEntityOfThisOrm'), undefined);
  } finally {
    await orm.close();
  }
});

test('isReferenceData works for EntitySchema entities registered with registerSyncModel', async () => {
  const country = new EntitySchema<{ id: number; code: string }>({
    name: 'RefCountry',
    properties: { id: { type: 'number', primary: true }, code: { type: 'string', unique: true } },
  });
  registerSyncModel(country, { naturalKey: ['code'], referenceData: true });
  try {
    const orm = await discover([country]);
    assert.is(EntitySync.of(orm).isReferenceData(country), true);
    await orm.close();
  } finally {
    unregister(country);
  }
});

test('a referenceData that is not a boolean fails at the decorator call', () => {
  class Target {}
  assert.throws(() => registerSyncModel(Target, { referenceData: 'yes' as unknown as boolean }),
    (error: EntitySyncError) => error.code === 'REGISTRY_INVALID_OPTION' &&
      error.message === "@SyncModel on Target: option 'referenceData' must be true or false, got a string.");
  unregister(Target);
});

test.run();
