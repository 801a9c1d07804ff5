import 'reflect-metadata';
import { Collection, Entity, ManyToOne, OneToMany, PrimaryKey, Property } from '@mikro-orm/core';
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
