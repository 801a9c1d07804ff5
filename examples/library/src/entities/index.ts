import { Author } from './author.js';
import { AuthorRef } from './author-ref.js';
import { AuthorProfile } from './author-profile.js';
import { Book } from './book.js';
import { CopyText } from './copy-text.js';
import { Country } from './country.js';
import { Language } from './language.js';
import { Publisher } from './publisher.js';
import { Tag } from './tag.js';

export { Author, AuthorRef, AuthorProfile, Book, CopyText, Country, Language, Publisher, Tag };

/** The replica service of the library: a read copy of authors. */
export const replicaEntities = [AuthorRef];

/** Every entity of the library app, for the ORM's `entities` option. */
export const libraryEntities = [Country, Language, CopyText, Publisher, Author, AuthorProfile, Book, Tag];
