import 'reflect-metadata';
import { Collection } from '@mikro-orm/core';
import { Entity, ManyToOne, OneToMany, PrimaryKey, Property } from './decorators.js';
import { Book } from './book.js';
import { Country } from './country.js';

@Entity()
export class Publisher {
  @PrimaryKey()
  id!: number;

  @Property()
  name!: string;

  @ManyToOne(() => Country, { nullable: true })
  country?: Country;

  @OneToMany(() => Book, (book) => book.publisher)
  books = new Collection<Book>(this);
}
