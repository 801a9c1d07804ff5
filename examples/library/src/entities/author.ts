import 'reflect-metadata';
import { Entity, OneToOne, PrimaryKey, Property } from './decorators.js';
import { Master } from '@entity-sync/core';
import type { Rel } from '@mikro-orm/core';
import { AuthorProfile } from './author-profile.js';

// Author declares no `books` collection: the relation graph still knows that books depend on it.
@Entity()
@Master('author')
export class Author {
  @PrimaryKey()
  id!: number;

  @Property()
  name!: string;

  @Property({ unique: true })
  email!: string;

  // Rel<>: the two classes import each other, so the property's type must not be read while the modules load
  @OneToOne(() => AuthorProfile, (profile) => profile.author, { nullable: true })
  profile?: Rel<AuthorProfile>;
}
