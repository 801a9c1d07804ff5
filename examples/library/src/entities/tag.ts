import 'reflect-metadata';
import { Collection } from '@mikro-orm/core';
import { Entity, ManyToMany, PrimaryKey, Property } from './decorators.js';
import { SyncModel } from '@entity-sync/core';
import { Book } from './book.js';

@Entity()
@SyncModel({ naturalKey: ['name'] })
export class Tag {
  @PrimaryKey()
  id!: number;

  @Property({ unique: true })
  name!: string;

  @ManyToMany(() => Book, (book) => book.tags)
  books = new Collection<Book>(this);
}
