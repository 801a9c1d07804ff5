import 'reflect-metadata';
import { Master, Replica } from '@entity-sync/core';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';

// A customer account as an application keeps it: eight columns of the usual kinds (a serial key,
// short and long text, an integer, a boolean, a timestamp), about 1 KB as a message.

@Entity({ tableName: 'account' })
@Master('account')
export class Account {
  @PrimaryKey() id!: number;
  @Property({ length: 120 }) email!: string;
  @Property({ length: 80 }) name!: string;
  @Property({ length: 16 }) status!: string;
  @Property() balanceCents!: number;
  @Property() active!: boolean;
  @Property({ type: 'text', nullable: true }) notes?: string;
  @Property({ columnType: 'timestamptz' }) updatedAt!: Date;
}

/** The replica of `Account` in another service's database: same columns, the key comes from the master. */
@Entity({ tableName: 'account_copy' })
@Replica('account')
export class AccountCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property({ length: 120 }) email!: string;
  @Property({ length: 80 }) name!: string;
  @Property({ length: 16 }) status!: string;
  @Property() balanceCents!: number;
  @Property() active!: boolean;
  @Property({ type: 'text', nullable: true }) notes?: string;
  @Property({ columnType: 'timestamptz' }) updatedAt!: Date;
}

/** The columns both tables share, in one order: what "the replica equals the master" compares. */
export const ACCOUNT_COLUMNS = ['id', 'email', 'name', 'status', 'balance_cents', 'active', 'notes', 'updated_at'];
