import 'reflect-metadata';
import type { Rel } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from './orm.js';
import { Master, Replica, SyncModel } from '@entity-sync/core';

@Entity()
@Unique({ properties: ['email'] })
@SyncModel({ naturalKey: ['email'] })
@Master('writer')
export class Writer {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @Property() email!: string;
}

@Entity()
export class Novel {
  @PrimaryKey() id!: number;
  @Property() title!: string;
  @ManyToOne(() => Writer) writer!: Rel<Writer>;
}

@Entity({ tableName: 'writer_copy' })
@Replica('writer')
export class WriterCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
}
