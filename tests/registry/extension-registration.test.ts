// How entity-sync gets onto an ORM, on MikroORM 6 (extensions registered after discovery) and 7
// (registered before it, entity-sync then sets itself up from discovery's afterDiscovered hook).
import 'reflect-metadata';
import { EntitySync, exportGraph } from '@entity-sync/adapters/mikro-orm';
import { SyncModel, type EntitySyncError } from '@entity-sync/core';
import { createSchema, embeddedOrmOptions, Entity, mikroOrmMajor, PrimaryKey, Property, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM, type Options } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rejection } from '../support/discover.js';

// a natural key without a unique constraint: entity-sync warns once it reads the entities
@Entity({ tableName: 'registration_note' })
@SyncModel({ naturalKey: ['title'] })
class RegistrationNote {
  @PrimaryKey() id!: number;
  @Property() title!: string;
}

const test = suite('entity-sync registration on MikroORM ' + mikroOrmMajor);

test("an app's own afterDiscovered hook still runs, before entity-sync reads the entities", async () => {
  const order: string[] = [];
  const orm = await MikroORM.init({
    driver: PostgreSqlDriver, dbName: 'discovery_only', connect: false, metadataProvider: ReflectMetadataProvider, entities: [RegistrationNote],
    discovery: { afterDiscovered: async () => { await new Promise((resolve) => setImmediate(resolve)); order.push('app'); } },
    extensions: [EntitySync.configure({ onWarning: (warning) => void order.push(`entity-sync: ${warning.code}`) })],
  } as Options);
  try {
    assert.equal(order, ['app', 'entity-sync: NATURAL_KEY_NOT_UNIQUE']);
    assert.ok(EntitySync.of(orm).graph.nodes.has('RegistrationNote'));
  } finally {
    await orm.close();
  }
});

// the CLI's way: init, then attach
const embedded = async () => MikroORM.init({
  ...await embeddedOrmOptions({}), metadataProvider: ReflectMetadataProvider, entities: [RegistrationNote],
} as Options);

test('attached right after MikroORM.init, before the first query, graph operations work on embedded PGlite', async () => {
  const orm = await embedded();
  try {
    EntitySync.attach(orm, { onWarning: () => undefined });
    await createSchema(orm);
    await orm.em.fork().insert(RegistrationNote, { id: 1, title: 'first' });
    const exported = await exportGraph(orm.em.fork(), { entity: RegistrationNote, key: 1 }, { exportedAt: null });
    assert.equal(exported.header.entities.map((entity) => `${entity.name}:${entity.rows}`), ['RegistrationNote:1']);
  } finally {
    await orm.close();
  }
});

test('attached after the ORM connected to embedded PGlite: MikroORM 6 runs graph operations, 7 refuses them typed, saying how to attach', async () => {
  const orm = await embedded();
  try {
    await createSchema(orm);
    await orm.em.fork().insert(RegistrationNote, { id: 1, title: 'first' });
    EntitySync.attach(orm, { onWarning: () => undefined });
    const exporting = exportGraph(orm.em.fork(), { entity: RegistrationNote, key: 1 }, { exportedAt: null });
    if (mikroOrmMajor < 7) {
      assert.equal((await exporting).header.entities.map((entity) => `${entity.name}:${entity.rows}`), ['RegistrationNote:1']);
    } else {
      const error = await rejection(exporting) as EntitySyncError;
      assert.is(error.code, 'EXTENSION_NOT_REGISTERED');
      assert.match(error.message, 'extensions: [EntitySync]');
    }
  } finally {
    await orm.close();
  }
});

test.run();
