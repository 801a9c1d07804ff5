import 'reflect-metadata';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from './decorators.js';
import { SyncModel } from '@entity-sync/core';
import { Country } from './country.js';

@Entity()
@Unique({ properties: ['country', 'code'] })
@SyncModel({ naturalKey: ['country.code', 'code'] })
export class Language {
  @PrimaryKey()
  id!: number;

  @ManyToOne(() => Country)
  country!: Country;

  @Property({ length: 8 })
  code!: string;

  @Property()
  name!: string;
}
