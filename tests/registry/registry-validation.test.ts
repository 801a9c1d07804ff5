import 'reflect-metadata';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { EntitySyncError, Master, registerMaster, registerSyncModel, SyncModel, unregister } from '@entity-sync/core';
import { EntitySchema } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property, ReflectMetadataProvider, Unique } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { discover, rejection } from '../support/discover.js';

@Entity()
class Region {
  @PrimaryKey() id!: number;
  @Property({ unique: true }) code!: string;
}

@Entity()
@SyncModel({ naturalKey: ['region.cod', 'name'] })
class CityWithTypo {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Region) region!: Region;
  @Property() name!: string;
}

@Entity()
@SyncModel({ naturalKey: ['name.first'] })
class CityThroughScalar {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

@Entity()
@SyncModel({ naturalKey: ['region.code', 'name'] })
class CityWithoutUnique {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Region) region!: Region;
  @Property() name!: string;
}

@Entity()
@Unique({ properties: ['region', 'name'] })
@SyncModel({ naturalKey: ['region', 'name'] })
class CityKeyedByRegion {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Region) region!: Region;
  @Property() name!: string;
}

@Entity()
@SyncModel({ exclude: ['secret', 'nope'] })
class WithUnknownField {
  @PrimaryKey() id!: number;
  @Property() secret!: string;
}

@Entity()
@Master('writer')
class Writer {
  @PrimaryKey() id!: number;
}

@Entity()
@Master('writer')
class Novelist {
  @PrimaryKey() id!: number;
}

const test = suite('registry validation at start-up');

test('a natural-key path that does not exist fails with the entity, the path and the known properties', async () => {
  const error = await rejection(discover([Region, CityWithTypo]));
  assert.instance(error, EntitySyncError);
  assert.is(error.code, 'NATURAL_KEY_PATH_NOT_FOUND');
  assert.is(error.message,
    "@SyncModel on CityWithTypo: naturalKey path 'region.cod' does not exist: Region has no property 'cod'. Known properties of Region: id, code.");
  assert.equal(error.info, { entity: 'CityWithTypo', option: 'naturalKey', path: 'region.cod', at: 'Region', segment: 'cod' });
});

test('a natural-key path that continues after a scalar fails', async () => {
  const error = await rejection(discover([CityThroughScalar]));
  assert.is(error.code, 'NATURAL_KEY_PATH_NOT_FOUND');
  assert.match(error.message, "@SyncModel on CityThroughScalar: naturalKey path 'name.first' cannot be a key: 'name' is not a relation");
});

test('a natural key without a unique constraint starts, with a warning naming the entity', async () => {
  const warnings: string[] = [];
  const orm = await discover([Region, CityWithoutUnique], { onWarning: (w) => warnings.push(`${w.code}: ${w.message}`) });
  try {
    assert.equal(warnings, [
      'NATURAL_KEY_NOT_UNIQUE: @SyncModel on CityWithoutUnique: naturalKey [region.code, name] is not backed by a unique constraint, ' +
        "so two rows may share a key and lookups may fail as ambiguous. Add @Unique({ properties: [...] }) over the key's properties.",
    ]);
    assert.equal(EntitySync.of(orm).warnings.map((w) => w.entity), ['CityWithoutUnique']);
  } finally {
    await orm.close();
  }
});

test('a key ending at a relation expands to its primary key and counts the unique constraint over it', async () => {
  const warnings: unknown[] = [];
  const orm = await discover([Region, CityKeyedByRegion], { onWarning: (w) => warnings.push(w) });
  try {
    assert.equal(EntitySync.of(orm).naturalKeyPaths(CityKeyedByRegion), ['region.id', 'name']);
    assert.equal(warnings, []);
  } finally {
    await orm.close();
  }
});

test('an include/exclude field that is not a property fails with the known properties', async () => {
  const error = await rejection(discover([WithUnknownField]));
  assert.is(error.code, 'REGISTRY_UNKNOWN_FIELD');
  assert.is(error.message,
    "@SyncModel on WithUnknownField: option 'exclude' names 'nope', which is not a property of WithUnknownField. Known properties: id, secret.");
});

test('a CQRS id used by two masters in one ORM fails, naming both', async () => {
  const error = await rejection(discover([Writer, Novelist]));
  assert.is(error.code, 'REGISTRY_DUPLICATE_CQRS_ID');
  assert.is(error.message,
    "@Master('writer') is declared on Writer and Novelist: a CQRS id must have exactly one master. Give one of them another id.");
  // each alone is fine: masters of one id may live in different services
  const orm = await discover([Writer]);
  assert.is(EntitySync.of(orm).registryEntry(Writer)?.master?.cqrsId, 'writer');
  await orm.close();
});

test('a decorator on a class that is not an entity fails at start-up', async () => {
  class NotAnEntity {}
  registerSyncModel(NotAnEntity, { naturalKey: ['code'] });
  try {
    const error = await rejection(discover([Region]));
    assert.is(error.code, 'REGISTRY_NOT_AN_ENTITY');
    assert.is(error.message,
      "@SyncModel on NotAnEntity: NotAnEntity is not a MikroORM entity. Decorate it with @Entity() (or define an EntitySchema) and list it in the ORM's 'entities', or remove @SyncModel.");
  } finally {
    unregister(NotAnEntity);
  }
});

test('decorated entities of another ORM in the same process are left alone', async () => {
  // CityWithTypo (a broken key) is registered but not part of this ORM
  const orm = await discover([Region]);
  assert.is(EntitySync.of(orm).graph.nodes.size, 1);
  await orm.close();
});

test('bad options fail at the decorator call itself', () => {
  class Target {}
  assert.throws(() => registerSyncModel(Target, { naturalKey: [] }),
    (error: EntitySyncError) => error.code === 'REGISTRY_INVALID_OPTION' && error.message ===
      "@SyncModel on Target: option 'naturalKey' must be a non-empty list of property paths.");
  assert.throws(() => registerSyncModel(Target, { naturalKey: ['a..b'] }),
    (error: EntitySyncError) => error.code === 'REGISTRY_INVALID_OPTION' && error.message.includes('"a..b"'));
  assert.throws(() => registerMaster(Target, ''),
    (error: EntitySyncError) => error.code === 'REGISTRY_INVALID_OPTION' && error.message.includes("'cqrsId' must be a non-empty string"));
  assert.throws(() => registerMaster(Target, 'x', { include: ['a'], exclude: ['b'] }),
    (error: EntitySyncError) => error.code === 'REGISTRY_INVALID_OPTION');
  unregister(Target);
});

test('the programmatic twin works for EntitySchema entities', async () => {
  interface Currency { id: number; code: string }
  const CurrencySchema = new EntitySchema<Currency>({
    name: 'Currency',
    properties: { id: { type: 'number', primary: true }, code: { type: 'string', unique: true } },
  });
  registerSyncModel(CurrencySchema, { naturalKey: ['code'] });
  try {
    const orm = await discover([CurrencySchema]);
    const sync = EntitySync.of(orm);
    assert.equal(sync.naturalKeyPaths('Currency'), ['code']);
    assert.equal(sync.naturalKeyFilter(CurrencySchema, { code: 'EUR' }), { code: 'EUR' });
    await orm.close();
  } finally {
    unregister(CurrencySchema);
  }
});

test('EntitySync.of fails clearly on an ORM without the extension', async () => {
  const { MikroORM } = await import('@mikro-orm/core');
  const { PostgreSqlDriver } = await import('@mikro-orm/postgresql');
  const orm = await MikroORM.init({ driver: PostgreSqlDriver, dbName: 'x', connect: false, metadataProvider: ReflectMetadataProvider, entities: [Region] });
  assert.throws(() => EntitySync.of(orm), (error: EntitySyncError) => error.code === 'EXTENSION_NOT_REGISTERED');
  const attached = EntitySync.attach(orm);
  assert.is(EntitySync.of(orm), attached);
  await orm.close();
});

test.run();
