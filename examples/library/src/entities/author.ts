import 'reflect-metadata';
import { Entity, OneToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Master } from '@entity-sync/core';
import type { AuthorProfile } from './author-profile.js';

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

  @OneToOne('AuthorProfile', (profile: AuthorProfile) => profile.author, { nullable: true })
  profile?: AuthorProfile;
}
