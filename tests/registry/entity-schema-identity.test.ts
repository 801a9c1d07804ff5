// Two ORMs of one process may each define their own EntitySchema of the same name: each
// ORM gets the registry entry of the schema object it was built from, not the last one of that name.
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { registerSyncModel, unregister } from '@entity-sync/core';
import { EntitySchema } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { discover, rejection } from '../support/discover.js';
import { FolderAtlasSchema } from './fixtures/folder-atlas.js';

interface Country {
  id: number;
  code: string;
  iso: string;
}

interface City {
  id: number;
  name: string;
  country: Country;
}

const countrySchema = () => new EntitySchema<Country>({
  name: 'Country',
  properties: {
    id: { type: 'number', primary: true },
    code: { type: 'string', unique: true },
    iso: { type: 'string', unique: true },
  },
});

const test = suite('EntitySchema entries are matched by schema object');

test('two ORMs with their own EntitySchema of one name each see their own @SyncModel options', async () => {
  const first = countrySchema();
  const second = countrySchema();
  registerSyncModel(first, { naturalKey: ['code'] });
  registerSyncModel(second, { naturalKey: ['iso'] });
  const firstOrm = await discover([first]);
  const secondOrm = await discover([second]);
  try {
    assert.is(EntitySync.of(firstOrm).registryEntry('Country')?.target, first);
    assert.equal(EntitySync.of(firstOrm).naturalKeyPaths('Country'), ['code']);
    assert.is(EntitySync.of(secondOrm).registryEntry('Country')?.target, second);
    assert.equal(EntitySync.of(secondOrm).naturalKeyPaths('Country'), ['iso']);
  } finally {
    await firstOrm.close();
    await secondOrm.close();
    unregister(first);
    unregister(second);
  }
});

test('an EntitySchema discovered only as a relation target gets its own entry', async () => {
  const elsewhere = countrySchema();
  const referenced = countrySchema();
  const city = new EntitySchema<City>({
    name: 'City',
    properties: {
      id: { type: 'number', primary: true },
      name: { type: 'string' },
      country: { kind: 'm:1', entity: () => referenced },
    },
  });
  registerSyncModel(referenced, { naturalKey: ['iso'] });
  registerSyncModel(elsewhere, { naturalKey: ['code'] });
  const orm = await discover([city]);
  try {
    assert.is(EntitySync.of(orm).registryEntry('Country')?.target, referenced);
    assert.equal(EntitySync.of(orm).naturalKeyPaths('Country'), ['iso']);
  } finally {
    await orm.close();
    unregister(elsewhere);
    unregister(referenced);
  }
});

test('an EntitySchema of this ORM without registry entry does not take another schema\'s of the same name', async () => {
  const registered = countrySchema();
  const plain = countrySchema();
  registerSyncModel(registered, { naturalKey: ['code'] });
  const orm = await discover([plain]);
  try {
    assert.is(EntitySync.of(orm).registryEntry('Country'), undefined);
  } finally {
    await orm.close();
    unregister(registered);
  }
});

test('an EntitySchema found through a folder path falls back to the name when one schema has it', async () => {
  registerSyncModel(FolderAtlasSchema, { naturalKey: ['code'] });
  const orm = await discover(['tests/registry/fixtures/folder-atlas.ts']);
  try {
    assert.is(EntitySync.of(orm).registryEntry('FolderAtlas')?.target, FolderAtlasSchema);
    assert.equal(EntitySync.of(orm).naturalKeyPaths('FolderAtlas'), ['code']);
  } finally {
    await orm.close();
    unregister(FolderAtlasSchema);
  }
});

test('an EntitySchema found through a folder path fails when several registered schemas have its name', async () => {
  const other = new EntitySchema<{ id: number }>({ name: 'FolderAtlas', properties: { id: { type: 'number', primary: true } } });
  registerSyncModel(FolderAtlasSchema, { naturalKey: ['code'] });
  registerSyncModel(other, {});
  try {
    const error = await rejection(discover(['tests/registry/fixtures/folder-atlas.ts']));
    assert.is(error.code, 'REGISTRY_INVALID_OPTION');
    assert.is(error.message,
      '@SyncModel on FolderAtlas: 2 EntitySchema definitions named FolderAtlas are registered, and this ORM found its FolderAtlas ' +
        "through a folder path, so which one it uses cannot be told. List the EntitySchema objects themselves in the ORM's 'entities', " +
        'or give the schemas distinct names.');
  } finally {
    unregister(FolderAtlasSchema);
    unregister(other);
  }
});

test.run();
