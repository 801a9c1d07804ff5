import type { EntityManager } from '@mikro-orm/core';
import { Author, AuthorProfile, Book, CopyText, Country, Language, Publisher, Tag } from './entities/index.js';

/** Fills an empty library database with a small, related data set; returns what it created. */
export async function seedLibrary(em: EntityManager) {
  const countries = {
    fr: em.create(Country, { code: 'FR', name: 'France' }),
    ca: em.create(Country, { code: 'CA', name: 'Canada' }),
    gb: em.create(Country, { code: 'GB', name: 'United Kingdom' }),
  };
  // 'fr' exists in two countries: only the two-level key (country code + language code) tells them apart.
  const languages = {
    frFR: em.create(Language, { country: countries.fr, code: 'fr', name: 'Français' }),
    frCA: em.create(Language, { country: countries.ca, code: 'fr', name: 'Français (Canada)' }),
    enGB: em.create(Language, { country: countries.gb, code: 'en', name: 'English' }),
  };
  em.create(CopyText, { language: languages.frFR, key: 'greeting', text: 'Bonjour' });
  em.create(CopyText, { language: languages.frCA, key: 'greeting', text: 'Bonjour, là!' });
  em.create(CopyText, { language: languages.enGB, key: 'greeting', text: 'Hello' });

  const tags = ['classic', 'novel', 'poetry', 'science'].map((name) => em.create(Tag, { name }));
  const gallimard = em.create(Publisher, { name: 'Gallimard', country: countries.fr });
  const penguin = em.create(Publisher, { name: 'Penguin', country: countries.gb });
  const hugo = em.create(Author, { name: 'Victor Hugo', email: 'hugo@example.org' });
  em.create(AuthorProfile, { author: hugo, bio: 'Poet and novelist.', website: 'https://example.org/hugo' });
  const austen = em.create(Author, { name: 'Jane Austen', email: 'austen@example.org' });
  const books = [
    em.create(Book, { title: 'Les Misérables', isbn: '978-2070409228', author: hugo, publisher: gallimard, language: languages.frFR, price: '12.50', publishedOn: '1862-04-03', tags: [tags[0]!, tags[1]!] }),
    em.create(Book, { title: 'Les Contemplations', isbn: '978-2070321797', author: hugo, publisher: gallimard, language: languages.frFR, price: '8.90', tags: [tags[2]!] }),
    em.create(Book, { title: 'Pride and Prejudice', isbn: '978-0141439518', author: austen, publisher: penguin, language: languages.enGB, price: '7.99', publishedOn: '1813-01-28', tags: [tags[0]!, tags[1]!] }),
  ];
  await em.flush();
  return { countries, languages, tags, publishers: [gallimard, penguin], authors: [hugo, austen], books };
}
