// include/exclude never drop a primary key: rows are matched across databases by it.
import 'reflect-metadata';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { EntitySyncError, Master, registerSyncModel, SyncModel, unregister } from '@entity-sync/core';
import { EntitySchema } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { discover, rejection } from '../support/discover.js';

@Entity({ tableName: 'keys_account' })
@SyncModel({ exclude: ['id', 'secret'] })
class KeysAccount {
  @PrimaryKey() id!: number;
  @Property() secret!: string;
}

@Entity({ tableName: 'keys_shelf' })
class KeysShelf {
  @PrimaryKey() id!: number;
}

@Entity({ tableName: 'keys_slot' })
@SyncModel({ exclude: ['shelf'] })
class KeysSlot {
  @ManyToOne(() => KeysShelf, { primary: true }) shelf!: KeysShelf;
  @PrimaryKey() code!: string;
  @Property() label!: string;
}

@Entity({ tableName: 'keys_member' })
@Master('keys-member', { exclude: ['id'] })
class KeysMember {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

@Entity({ tableName: 'keys_card' })
@SyncModel({ include: ['label'] })
class KeysCard {
  @PrimaryKey() id!: number;
  @Property() label!: string;
  @Property() internal!: string;
}

@Entity({ tableName: 'keys_country' })
@SyncModel({ naturalKey: ['code'], exclude: ['code'] })
class KeysCountry {
  @PrimaryKey() id!: number;
  @Property({ unique: true }) code!: string;
}

const test = suite('@SyncModel include/exclude keep the primary key');

test('an exclude that names the primary key fails at start-up, naming the entity, the option and why', async () => {
  const error = await rejection(discover([KeysAccount]));
  assert.instance(error, EntitySyncError);
  assert.is(error.code, 'REGISTRY_INVALID_OPTION');
  assert.is(error.message,
    "@SyncModel on KeysAccount: option 'exclude' names the primary-key property 'id', which every synced row keeps " +
      "(rows are matched across databases by it, and a message carries it as its key); remove 'id' from exclude.");
  assert.equal((error as EntitySyncError).info, { entity: 'KeysAccount', decorator: '@SyncModel', option: 'exclude' });
});

test('an exclude that names a relation of a composite primary key fails at start-up', async () => {
  const error = await rejection(discover([KeysShelf, KeysSlot]));
  assert.is(error.code, 'REGISTRY_INVALID_OPTION');
  assert.match(error.message, "@SyncModel on KeysSlot: option 'exclude' names the primary-key property 'shelf'");
});

test('an @Master exclude that names the primary key fails at start-up too', async () => {
  const error = await rejection(discover([KeysMember]));
  assert.is(error.code, 'REGISTRY_INVALID_OPTION');
  assert.match(error.message, "@Master on KeysMember: option 'exclude' names the primary-key property 'id'");
});

test('an exclude of an EntitySchema primary key fails at start-up', async () => {
  const schema = new EntitySchema<{ code: string; name: string }>({
    name: 'KeysCurrency',
    properties: { code: { type: 'string', primary: true }, name: { type: 'string' } },
  });
  registerSyncModel(schema, { exclude: ['code'] });
  try {
    const error = await rejection(discover([schema]));
    assert.is(error.code, 'REGISTRY_INVALID_OPTION');
    assert.match(error.message, "@SyncModel on KeysCurrency: option 'exclude' names the primary-key property 'code'");
  } finally {
    unregister(schema);
  }
});

test('an include without the primary key is accepted: the key is kept implicitly', async () => {
  const orm = await discover([KeysCard]);
  try {
    assert.equal(EntitySync.of(orm).registryEntry(KeysCard)?.syncModel?.include, ['label']);
  } finally {
    await orm.close();
  }
});

test('an exclude that names a natural-key property fails at start-up', async () => {
  const error = await rejection(discover([KeysCountry]));
  assert.is(error.code, 'REGISTRY_INVALID_OPTION');
  assert.match(error.message, "@SyncModel on KeysCountry: option 'exclude' names 'code', which the natural key [code] starts from");
});

test.run();
