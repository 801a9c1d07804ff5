import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rejection } from '../../../tests/support/discover.js';
import { Book, CopyText, Language } from '../src/entities/index.js';
import { libraryEntities } from '../src/entities/index.js';
import { seedLibrary } from '../src/seed.js';

for (const backend of testBackends()) {
  const test = suite(`natural keys of the library [${backend.name}]`);
  let orm: MikroORM;

  test.before(async () => {
    orm = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    await seedLibrary(orm.em.fork());
  });
  test.after(async () => {
    await orm.close();
  });

  test('a two-level dotted path finds the one row it names', async () => {
    const sync = EntitySync.of(orm);
    assert.equal(sync.naturalKeyPaths(CopyText), ['language.country.code', 'language.code', 'key']);
    const canadian = await sync.findByNaturalKey<CopyText>(CopyText, { 'language.country.code': 'CA', 'language.code': 'fr', key: 'greeting' });
    assert.is(canadian?.text, 'Bonjour, là!');
    const french = await sync.findByNaturalKey<CopyText>(CopyText, ['FR', 'fr', 'greeting']);
    assert.is(french?.text, 'Bonjour');
    assert.is(await sync.findByNaturalKey(CopyText, ['BE', 'fr', 'greeting']), null);
  });

  test('a key and its row round-trip: naturalKeyOf loads the relations the paths go through', async () => {
    const sync = EntitySync.of(orm);
    const em = orm.em.fork();
    for (const text of await em.find(CopyText, {}, { orderBy: { id: 'asc' } })) {
      // a fresh entity manager holds language and country as unloaded references
      const key = await sync.naturalKeyOf(text);
      const found = await sync.findByNaturalKey<CopyText>(CopyText, key, { em });
      assert.is(found, text);
    }
    const [first] = await orm.em.fork().find(CopyText, {}, { orderBy: { id: 'asc' } });
    assert.equal(await sync.naturalKeyOf(first!), { 'language.country.code': 'FR', 'language.code': 'fr', key: 'greeting' });
  });

  test('a one-level path and its filter', async () => {
    const sync = EntitySync.of(orm);
    assert.equal(sync.naturalKeyFilter(Language, { 'country.code': 'GB', code: 'en' }), { country: { code: 'GB' }, code: 'en' });
    const english = await sync.findByNaturalKey<Language>(Language, { 'country.code': 'GB', code: 'en' });
    assert.is(english?.name, 'English');
  });

  test('an incomplete key or an entity without a natural key fails with its code', async () => {
    const sync = EntitySync.of(orm);
    const incomplete = await rejection(sync.findByNaturalKey(CopyText, { 'language.code': 'fr', key: 'greeting' }));
    assert.is(incomplete.code, 'NATURAL_KEY_INCOMPLETE');
    assert.match(incomplete.message, "CopyText: the natural key has no value for 'language.country.code'");
    const undefinedKey = await rejection(sync.findByNaturalKey(Book, { isbn: 'x' }));
    assert.is(undefinedKey.code, 'NATURAL_KEY_UNDEFINED');
    assert.match(undefinedKey.message, 'Declare one with @SyncModel({ naturalKey: [...] })');
  });

  test.run();
}
