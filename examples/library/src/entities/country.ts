import 'reflect-metadata';
import { Entity, PrimaryKey, Property } from './decorators.js';
import { SyncModel } from '@entity-sync/core';

@Entity()
@SyncModel({ naturalKey: ['code'] })
export class Country {
  @PrimaryKey()
  id!: number;

  @Property({ length: 2, unique: true })
  code!: string;

  @Property()
  name!: string;
}
