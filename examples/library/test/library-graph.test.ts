import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { databaseForeignKeys, describeEdges, graphForeignKeys } from '../../../tests/support/catalog.js';
import { libraryEntities } from '../src/entities/index.js';

for (const backend of testBackends()) {
  const test = suite(`library relation graph [${backend.name}]`);

  test('holds every entity with its table, key and columns', async () => {
    const orm = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      const { graph } = EntitySync.of(orm);
      assert.equal([...graph.nodes.keys()].sort(),
        ['Author', 'AuthorProfile', 'Book', 'CopyText', 'Country', 'Language', 'Publisher', 'Tag', 'book_tags']);
      const book = graph.node('Book');
      assert.is(book.table, 'book');
      assert.equal(book.primaryKey, ['id']);
      assert.equal(book.columns.map((c) => `${c.name}:${c.type}${c.nullable ? '?' : ''}`), [
        'id:serial', 'title:varchar(255)', 'isbn:varchar(255)', 'author_id:int', 'publisher_id:int?',
        'language_id:int?', 'price:numeric(10,2)?', 'published_on:date?',
      ]);
      const pivot = graph.node('book_tags');
      assert.ok(pivot.pivot);
      assert.equal(pivot.primaryKey, ['book_id', 'tag_id']);
    } finally {
      await orm.close();
    }
  });

  test('holds both directions of every relation, declared or not, edge by edge', async () => {
    const orm = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      assert.equal(describeEdges(EntitySync.of(orm).graph), [
        'Author.profile: one-to-one Author->AuthorProfile via AuthorProfile(author_id)->Author(id) [inverse nullable] inverse=AuthorProfile.author',
        'Author<-Book.author: one-to-many Author->Book via Book(author_id)->Author(id) [inverse nullable] inverse=Book.author',
        'AuthorProfile.author: one-to-one AuthorProfile->Author via AuthorProfile(author_id)->Author(id) [owner required] inverse=Author.profile',
        'Book.author: many-to-one Book->Author via Book(author_id)->Author(id) [owner required] inverse=Author<-Book.author',
        'Book.language: many-to-one Book->Language via Book(language_id)->Language(id) [owner nullable] inverse=Language<-Book.language',
        'Book.publisher: many-to-one Book->Publisher via Book(publisher_id)->Publisher(id) [owner nullable] inverse=Publisher.books',
        'Book.tags: many-to-many Book->Tag via book_tags(book_id|tag_id) [owner nullable] inverse=Tag.books',
        'Book<-book_tags.Book_owner: one-to-many Book->book_tags via book_tags(book_id)->Book(id) [inverse nullable] inverse=book_tags.Book_owner',
        'CopyText.language: many-to-one CopyText->Language via CopyText(language_id)->Language(id) [owner required] inverse=Language<-CopyText.language',
        'Country<-Language.country: one-to-many Country->Language via Language(country_id)->Country(id) [inverse nullable] inverse=Language.country',
        'Country<-Publisher.country: one-to-many Country->Publisher via Publisher(country_id)->Country(id) [inverse nullable] inverse=Publisher.country',
        'Language.country: many-to-one Language->Country via Language(country_id)->Country(id) [owner required] inverse=Country<-Language.country',
        'Language<-Book.language: one-to-many Language->Book via Book(language_id)->Language(id) [inverse nullable] inverse=Book.language',
        'Language<-CopyText.language: one-to-many Language->CopyText via CopyText(language_id)->Language(id) [inverse nullable] inverse=CopyText.language',
        'Publisher.books: one-to-many Publisher->Book via Book(publisher_id)->Publisher(id) [inverse nullable] inverse=Book.publisher',
        'Publisher.country: many-to-one Publisher->Country via Publisher(country_id)->Country(id) [owner nullable] inverse=Country<-Publisher.country',
        'Tag.books: many-to-many Tag->Book via book_tags(tag_id|book_id) [inverse nullable] inverse=Book.tags',
        'Tag<-book_tags.Tag_inverse: one-to-many Tag->book_tags via book_tags(tag_id)->Tag(id) [inverse nullable] inverse=book_tags.Tag_inverse',
        'book_tags.Book_owner: many-to-one book_tags->Book via book_tags(book_id)->Book(id) [owner required] inverse=Book<-book_tags.Book_owner',
        'book_tags.Tag_inverse: many-to-one book_tags->Tag via book_tags(tag_id)->Tag(id) [owner required] inverse=Tag<-book_tags.Tag_inverse',
      ]);
    } finally {
      await orm.close();
    }
  });

  test('its foreign keys are exactly those of the database schema', async () => {
    const orm = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      const inDatabase = await databaseForeignKeys(orm);
      assert.is(inDatabase.length, 9);
      assert.equal(graphForeignKeys(EntitySync.of(orm).graph), inDatabase);
    } finally {
      await orm.close();
    }
  });

  test('needs() and dependents() split each entity\'s edges by who holds the key', async () => {
    const orm = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      const { graph } = EntitySync.of(orm);
      assert.equal(graph.needs('Book').map((e) => e.name).sort(), ['Book.author', 'Book.language', 'Book.publisher']);
      assert.equal(graph.dependents('Author').map((e) => e.name).sort(), ['Author.profile', 'Author<-Book.author']);
      assert.equal(graph.dependents('Book').map((e) => e.name), ['Book<-book_tags.Book_owner']);
      assert.throws(() => graph.node('Nope'), (error: Error & { code?: string }) => error.code === 'GRAPH_UNKNOWN_ENTITY');
      assert.throws(() => graph.edge('Book.nope'), (error: Error & { code?: string }) =>
        error.code === 'GRAPH_UNKNOWN_RELATION' && error.message.includes('Book.author'));
    } finally {
      await orm.close();
    }
  });

  test.run();
}
