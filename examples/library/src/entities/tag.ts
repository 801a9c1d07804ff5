import 'reflect-metadata';
import { Collection, Entity, ManyToMany, PrimaryKey, Property } from '@mikro-orm/core';
import { SyncModel } from '@entity-sync/core';
import type { Book } from './book.js';

@Entity()
@SyncModel({ naturalKey: ['name'] })
export class Tag {
  @PrimaryKey()
  id!: number;

  @Property({ unique: true })
  name!: string;

  @ManyToMany('Book', (book: Book) => book.tags)
  books = new Collection<Book>(this);
}
