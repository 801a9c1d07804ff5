import { Author } from './author.js';
import { AuthorProfile } from './author-profile.js';
import { Book } from './book.js';
import { CopyText } from './copy-text.js';
import { Country } from './country.js';
import { Language } from './language.js';
import { Publisher } from './publisher.js';
import { Tag } from './tag.js';

export { Author, AuthorProfile, Book, CopyText, Country, Language, Publisher, Tag };

/** Every entity of the library app, for the ORM's `entities` option. */
export const libraryEntities = [Country, Language, CopyText, Publisher, Author, AuthorProfile, Book, Tag];
