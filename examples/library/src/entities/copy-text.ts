import 'reflect-metadata';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from './decorators.js';
import { SyncModel } from '@entity-sync/core';
import { Language } from './language.js';

/** A translated UI text, keyed across environments by language and key. */
@Entity()
@Unique({ properties: ['language', 'key'] })
@SyncModel({ naturalKey: ['language.country.code', 'language.code', 'key'] })
export class CopyText {
  @PrimaryKey()
  id!: number;

  @ManyToOne(() => Language)
  language!: Language;

  @Property()
  key!: string;

  @Property({ type: 'text' })
  text!: string;
}
