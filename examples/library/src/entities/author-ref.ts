import 'reflect-metadata';
import { Entity, PrimaryKey, Property } from './decorators.js';
import { Replica } from '@entity-sync/core';

/** A read copy of Author in another service: the email arrives as `contact`. */
@Entity({ tableName: 'author_ref' })
@Replica('author', { fields: { email: 'contact' } })
export class AuthorRef {
  @PrimaryKey({ autoincrement: false })
  id!: number;

  @Property()
  name!: string;

  @Property({ nullable: true })
  contact?: string;
}
