import 'reflect-metadata';
import { Collection, Entity, ManyToMany, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Author } from './author.js';
import { Language } from './language.js';
import type { Publisher } from './publisher.js';
import { Tag } from './tag.js';

@Entity()
export class Book {
  @PrimaryKey()
  id!: number;

  @Property()
  title!: string;

  @Property({ unique: true })
  isbn!: string;

  @ManyToOne(() => Author)
  author!: Author;

  @ManyToOne('Publisher', { nullable: true })
  publisher?: Publisher;

  @ManyToOne(() => Language, { nullable: true })
  language?: Language;

  @ManyToMany(() => Tag, (tag) => tag.books, { owner: true })
  tags = new Collection<Tag>(this);

  @Property({ type: 'decimal', precision: 10, scale: 2, nullable: true })
  price?: string;

  @Property({ type: 'date', nullable: true })
  publishedOn?: string;
}
