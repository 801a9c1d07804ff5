import 'reflect-metadata';
import { Entity, OneToOne, PrimaryKey, Property } from './decorators.js';
import type { Rel } from '@mikro-orm/core';
import { Author } from './author.js';

@Entity()
export class AuthorProfile {
  @PrimaryKey()
  id!: number;

  @OneToOne(() => Author, (author) => author.profile, { owner: true, deleteRule: 'cascade' })
  author!: Rel<Author>;

  @Property({ type: 'text', nullable: true })
  bio?: string;

  @Property({ nullable: true })
  website?: string;
}
