import {
  getRegistryEntry,
  Master,
  registerSyncModel,
  registryEntries,
  Replica,
  SyncModel,
  unregister,
} from '@entity-sync/core';
import { targetName } from '../src/registry/registry.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('registry and decorators');

test('decorators store their options in the registry, keyed by class', () => {
  @SyncModel({ naturalKey: ['code'], exclude: ['secret'] })
  @Master('thing', { produce: false })
  class Thing {}
  const entry = getRegistryEntry(Thing);
  assert.equal(entry?.syncModel, { naturalKey: ['code'], exclude: ['secret'] });
  assert.equal(entry?.master?.cqrsId, 'thing');
  assert.is(entry?.master?.options.produce, false);
  assert.is(entry?.name, 'Thing');
  assert.ok(registryEntries().includes(entry!));
  // nothing is written to reflect-metadata
  assert.equal(Object.getOwnPropertySymbols(Thing), []);
  unregister(Thing);
  assert.is(getRegistryEntry(Thing), undefined);
});

test('the decorators also work as standard (TC39) class decorators', () => {
  class Copy {}
  const context = { kind: 'class', name: 'Copy' };
  Replica('thing', { fields: { secret: null } })(Copy, context);
  assert.equal(getRegistryEntry(Copy)?.replica, { cqrsId: 'thing', options: { fields: { secret: null } } });
  unregister(Copy);
});

test('options are copied, so later changes to the caller\'s object do not leak in', () => {
  class Keyed {}
  const options = { naturalKey: ['a'] };
  registerSyncModel(Keyed, options);
  options.naturalKey = ['b'];
  assert.equal(getRegistryEntry(Keyed)?.syncModel?.naturalKey, ['a']);
  unregister(Keyed);
});

test('an EntitySchema-like target is named by its meta.className', () => {
  assert.is(targetName({ meta: { className: 'Currency' } }), 'Currency');
  assert.is(targetName(class Named {}), 'Named');
});

test.run();
