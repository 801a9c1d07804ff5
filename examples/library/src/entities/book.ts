import 'reflect-metadata';
import { Collection, type Rel } from '@mikro-orm/core';
import { Entity, ManyToMany, ManyToOne, PrimaryKey, Property } from './decorators.js';
import { Author } from './author.js';
import { Language } from './language.js';
import { Publisher } from './publisher.js';
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

  @ManyToOne(() => Publisher, { nullable: true })
  publisher?: Rel<Publisher>;

  @ManyToOne(() => Language, { nullable: true })
  language?: Language;

  @ManyToMany(() => Tag, (tag) => tag.books, { owner: true })
  tags = new Collection<Tag>(this);

  @Property({ type: 'decimal', precision: 10, scale: 2, nullable: true })
  price?: string;

  @Property({ type: 'date', nullable: true })
  publishedOn?: string;
}
