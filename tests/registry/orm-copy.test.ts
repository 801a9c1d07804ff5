// An ORM made by another copy of @mikro-orm/core than entity-sync's is refused at attach, with how to fix it.
import 'reflect-metadata';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { libraryEntities } from '../../examples/library/src/index.js';

const test = suite('two copies of @mikro-orm/core');

test('an ORM that is not an instance of entity-sync\'s MikroORM class fails with ORM_DUPLICATE_COPY', () => {
  // what another copy's MikroORM looks like from here: the same shape, another class
  const foreign = { config: { get: () => undefined }, em: {}, getMetadata: () => ({ getAll: () => ({}) }) };
  const error = (() => {
    try {
      EntitySync.attach(foreign as never);
    } catch (e) {
      return e as { code?: string; message: string };
    }
  })();
  assert.is(error?.code, 'ORM_DUPLICATE_COPY');
  assert.match(error!.message, 'Two copies of @mikro-orm/core are loaded');
  assert.match(error!.message, '/@mikro-orm/core/');
  assert.match(error!.message, 'npm dedupe');
});

test('an ORM of the same copy attaches', async () => {
  const [backend] = testBackends();
  const orm = await backend!.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
  try {
    assert.ok(EntitySync.of(orm));
  } finally {
    await orm.close();
  }
});

test.run();
