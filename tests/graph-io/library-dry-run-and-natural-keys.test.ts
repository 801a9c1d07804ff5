import { EntitySync, exportGraph, importGraph, type ImportReport } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  Author, AuthorProfile, Book, CopyText, Country, Language, libraryEntities, Publisher, seedLibrary, Tag,
} from '../../examples/library/src/index.js';
import { tableChecksums } from '../support/checksums.js';
import { count, sequenceStates } from './helpers/sql.js';

const comparable = (report: ImportReport) => ({ ...report, dryRun: undefined, statements: undefined });
const bare = (names: string[]) => names.map((name) => name.replace(/^.*\./, '').replace(/"/g, '')).sort();

for (const backend of testBackends()) {
  const test = suite(`library imports: dry runs, sequences and natural keys [${backend.name}]`);
  let source: MikroORM;
  const open = () => backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });

  test.before(async () => {
    source = await open();
    await seedLibrary(source.em.fork());
  });
  test.after(async () => {
    await source.close();
  });

  test('a dry run into an empty database writes no row, moves no sequence, and reports what the real run does', async () => {
    const target = await open();
    try {
      const exported = await exportGraph(source.em.fork(), await source.em.fork().find(Author, {}), { exportedAt: null });
      const sequences = await sequenceStates(target);
      const checksums = await tableChecksums(target);
      const dry = await importGraph(target.em.fork(), exported.document!, { dryRun: true });
      assert.equal(await tableChecksums(target), checksums, 'no row was written');
      assert.equal(await sequenceStates(target), sequences, 'no sequence moved');
      const real = await importGraph(target.em.fork(), exported.document!);
      assert.equal(comparable(dry), comparable(real));
    } finally {
      await target.close();
    }
  });

  test('an import names every sequence it moved, and the app then inserts into every table after the imported ids', async () => {
    const target = await open();
    try {
      const exported = await exportGraph(source.em.fork(), await source.em.fork().find(Author, {}), { exportedAt: null });
      const report = await importGraph(target.em.fork(), exported.document!);
      assert.equal(bare(report.sequences),
        ['author_id_seq', 'author_profile_id_seq', 'book_id_seq', 'country_id_seq', 'language_id_seq', 'publisher_id_seq', 'tag_id_seq']);

      const em = target.em.fork();
      const author = em.create(Author, { name: 'Mary Shelley', email: 'shelley@example.org' });
      const country = em.create(Country, { code: 'IE', name: 'Ireland' });
      const language = em.create(Language, { country, code: 'ga', name: 'Gaeilge' });
      const publisher = em.create(Publisher, { name: 'Lackington', country });
      const tag = em.create(Tag, { name: 'gothic' });
      const profile = em.create(AuthorProfile, { author, bio: 'Novelist.' });
      const book = em.create(Book, { title: 'Frankenstein', isbn: '978-0141439471', author, publisher, language, tags: [tag] });
      await em.flush();
      const created = { Author: author.id, Country: country.id, Language: language.id, Publisher: publisher.id, Tag: tag.id, AuthorProfile: profile.id, Book: book.id };
      for (const [entity, id] of Object.entries(created)) {
        const imported = exported.document!.data[entity]!.map((row) => Number(row[0]));
        assert.is(id, Math.max(...imported) + 1, `${entity} continues after the imported ids`);
      }
    } finally {
      await target.close();
    }
  });

  test("a 'remap' dry run reports the very ids the real run then gives, and draws nothing from the sequences", async () => {
    const target = await open();
    try {
      // other rows already hold the low ids
      const em = target.em.fork();
      const de = em.create(Country, { code: 'DE', name: 'Germany' });
      em.create(Language, { country: de, code: 'de', name: 'Deutsch' });
      for (const name of ['x', 'y', 'z', 'w']) em.create(Tag, { name });
      em.create(Publisher, { name: 'Insel', country: de });
      em.create(Author, { name: 'Goethe', email: 'goethe@example.org' });
      await em.flush();

      const exported = await exportGraph(source.em.fork(), await source.em.fork().find(Author, {}), { exportedAt: null });
      const sequences = await sequenceStates(target);
      const checksums = await tableChecksums(target);
      const dry = await importGraph(target.em.fork(), exported.document!, { onConflict: 'remap', dryRun: true });
      assert.equal(await tableChecksums(target), checksums, 'no row was written');
      assert.equal(await sequenceStates(target), sequences, 'no sequence moved');
      const real = await importGraph(target.em.fork(), exported.document!, { onConflict: 'remap' });
      assert.equal(comparable(dry), comparable(real), 'the dry run reported the ids the run gave');

      // the copy hangs together under its new ids
      assert.equal(real.idMap.Author, [[['1'], ['2']], [['2'], ['3']]]);
      const check = target.em.fork();
      const books = await check.find(Book, {}, { populate: ['author', 'publisher', 'language.country', 'tags'], orderBy: { title: 'asc' } });
      assert.equal(books.map((b) => `${b.title}|${b.author.email}|${b.publisher!.name}|${b.language!.country.code}-${b.language!.code}|${b.tags.getItems().map((t) => t.name).sort()}`), [
        'Les Contemplations|hugo@example.org|Gallimard|FR-fr|poetry',
        'Les Misérables|hugo@example.org|Gallimard|FR-fr|classic,novel',
        'Pride and Prejudice|austen@example.org|Penguin|GB-en|classic,novel',
      ]);
      const profile = await check.findOneOrFail(AuthorProfile, { author: { email: 'hugo@example.org' } });
      assert.is(profile.bio, 'Poet and novelist.');
    } finally {
      await target.close();
    }
  });

  test("matchBy 'naturalKey' tells 'fr' of France from 'fr' of Canada and reuses three-level keys", async () => {
    const target = await open();
    try {
      // the same reference data entered in another order: every id differs from the source's
      const em = target.em.fork();
      const ca = em.create(Country, { code: 'CA', name: 'Canada' });
      const fr = em.create(Country, { code: 'FR', name: 'France' });
      em.create(Country, { code: 'GB', name: 'United Kingdom' });
      const frCA = em.create(Language, { country: ca, code: 'fr', name: 'Français (Canada)' });
      const frFR = em.create(Language, { country: fr, code: 'fr', name: 'Français' });
      em.create(CopyText, { language: frCA, key: 'greeting', text: 'Allô' });
      const tags = ['science', 'poetry', 'classic', 'novel'].map((name) => em.create(Tag, { name }));
      await em.flush();
      const copyTexts = await count(target, 'select count(*)::int as n from $s.copy_text');

      // France owns its language, that language's texts, and its publisher's books and their tag links
      const france = await source.em.fork().findOneOrFail(Country, { code: 'FR' });
      const exported = await exportGraph(source.em.fork(), france, { exportedAt: null });
      assert.equal(exported.header.entities.map((e) => e.name).sort(),
        ['Author', 'Book', 'CopyText', 'Country', 'Language', 'Publisher', 'Tag', 'book_tags']);

      const report = await importGraph(target.em.fork(), exported.document!, { onConflict: 'remap', matchBy: 'naturalKey' });
      assert.equal(report.entities.Country, { created: 0, updated: 0, skipped: 0, remapped: 0, reused: 1 });
      assert.equal(report.entities.Language, { created: 0, updated: 0, skipped: 0, remapped: 0, reused: 1 });
      assert.equal(report.entities.Tag, { created: 0, updated: 0, skipped: 0, remapped: 0, reused: 3 });
      assert.equal(report.entities.CopyText, { created: 0, updated: 0, skipped: 0, remapped: 1, reused: 0 });
      assert.equal(report.idMap.Country, [[[String(france.id)], [String(fr.id)]]]);
      assert.equal(report.idMap.Language!.map(([, now]) => now), [[String(frFR.id)]]);

      const check = target.em.fork();
      assert.is(await check.count(Country), 3);
      assert.is(await check.count(Language), 2);
      assert.is(await check.count(Tag), 4);
      assert.is(await count(target, 'select count(*)::int as n from $s.copy_text'), copyTexts + 1);
      const greeting = await check.findOneOrFail(CopyText, { language: frFR.id, key: 'greeting' });
      assert.is(greeting.text, 'Bonjour');
      assert.is((await check.findOneOrFail(CopyText, { language: frCA.id, key: 'greeting' })).text, 'Allô', 'the Canadian text is untouched');
      const book = await check.findOneOrFail(Book, { isbn: '978-2070409228' }, { populate: ['tags', 'language', 'publisher'] });
      assert.is(book.language!.id, frFR.id);
      assert.is(book.publisher!.country!.id, fr.id);
      assert.equal(book.tags.getItems().map((t) => t.id).sort(), [tags[2]!.id, tags[3]!.id].sort());
    } finally {
      await target.close();
    }
  });

  test.run();
}
