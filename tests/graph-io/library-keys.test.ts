import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Author, Book, Country, Language, libraryEntities, seedLibrary, Tag } from '../../examples/library/src/index.js';

for (const backend of testBackends()) {
  const test = suite(`imports on the library app: sequences and natural keys [${backend.name}]`);

  test('after an import with explicit ids, the app inserts new rows without collisions', async () => {
    const source = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const target = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      await seedLibrary(source.em.fork());
      const roots = await source.em.fork().find(Author, {});
      const exported = await exportGraph(source.em.fork(), roots);
      const report = await importGraph(target.em.fork(), exported.document!);
      assert.ok(report.sequences.some((name) => name.endsWith('book_id_seq')), report.sequences.join(', '));
      const em = target.em.fork();
      const author = await em.findOneOrFail(Author, { name: 'Jane Austen' });
      const book = em.create(Book, { title: 'Emma', isbn: '978-0141439587', author });
      const country = em.create(Country, { code: 'DE', name: 'Germany' });
      await em.flush();
      assert.ok(book.id > Math.max(...exported.document!.data.Book!.map((row) => Number(row[0]))));
      assert.ok(country.id > 3);
    } finally {
      await source.close();
      await target.close();
    }
  });

  test("matchBy 'naturalKey' reuses reference rows that exist under other ids", async () => {
    const source = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const target = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      await seedLibrary(source.em.fork());
      const em = target.em.fork();
      // the same reference data, created in another order: other ids
      em.create(Tag, { name: 'zzz' });
      em.create(Tag, { name: 'novel' });
      em.create(Tag, { name: 'classic' });
      const gb = em.create(Country, { code: 'GB', name: 'Great Britain' });
      em.create(Country, { code: 'FR', name: 'France' });
      em.create(Language, { country: gb, code: 'en', name: 'English' });
      await em.flush();
      const austen = await source.em.fork().findOneOrFail(Author, { name: 'Jane Austen' });
      const exported = await exportGraph(source.em.fork(), austen);

      const plain = await importGraph(target.em.fork(), exported.document!).catch((e) => e);
      assert.is(plain.code, 'IMPORT_CONFLICT');
      assert.ok(plain.info.conflicts.some((c: { kind: string; entity: string }) => c.kind === 'naturalKey' && c.entity === 'Country'));

      const report = await importGraph(target.em.fork(), exported.document!, { onConflict: 'remap', matchBy: 'naturalKey' });
      assert.equal(report.entities.Country, { created: 0, updated: 0, skipped: 0, remapped: 0, reused: 1 });
      assert.equal(report.entities.Language, { created: 0, updated: 0, skipped: 0, remapped: 0, reused: 1 });
      assert.equal(report.entities.Tag, { created: 0, updated: 0, skipped: 0, remapped: 0, reused: 2 });
      const check = target.em.fork();
      assert.is(await check.count(Country), 2);
      assert.is(await check.count(Tag), 3);
      const book = await check.findOneOrFail(Book, { title: 'Pride and Prejudice' }, { populate: ['tags', 'language.country', 'publisher.country'] });
      assert.equal(book.tags.getItems().map((tag) => tag.name).sort(), ['classic', 'novel']);
      assert.is(book.language!.id, (await check.findOneOrFail(Language, { code: 'en' })).id);
      assert.is(book.publisher!.country!.id, gb.id);
    } finally {
      await source.close();
      await target.close();
    }
  });

  test.run();
}
