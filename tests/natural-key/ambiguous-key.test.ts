import 'reflect-metadata';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rejection } from '../support/discover.js';

@Entity()
@SyncModel({ naturalKey: ['label'] })
class Sticker {
  @PrimaryKey() id!: number;
  @Property() label!: string;
}

for (const backend of testBackends()) {
  const test = suite(`natural key without a unique constraint [${backend.name}]`);

  test('a key that names two rows fails as ambiguous instead of picking one', async () => {
    const orm = await backend.createOrm({ entities: [Sticker], extensions: [EntitySync.configure({ onWarning: () => {} })] });
    try {
      const em = orm.em.fork();
      em.create(Sticker, { label: 'red' });
      em.create(Sticker, { label: 'red' });
      em.create(Sticker, { label: 'blue' });
      await em.flush();
      const sync = EntitySync.of(orm);
      const error = await rejection(sync.findByNaturalKey(Sticker, ['red']));
      assert.is(error.code, 'NATURAL_KEY_AMBIGUOUS');
      assert.is(error.message, 'Sticker: natural key {"label":"red"} matches more than one row. ' +
        'Add a unique constraint over the natural-key columns so that it names one row.');
      assert.is((await sync.findByNaturalKey<Sticker>(Sticker, { label: 'blue' }))?.label, 'blue');
    } finally {
      await orm.close();
    }
  });

  test.run();
}
