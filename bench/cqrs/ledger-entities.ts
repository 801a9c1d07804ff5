import 'reflect-metadata';
import { Master, Replica } from '@entity-sync/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';

// Accounts and the transfers between them: two master tables with foreign keys from one to the
// other, and their replicas with the same columns and foreign keys (or, for the comparison,
// without them).

/** The columns of an account, on the master and on its replicas. */
abstract class AccountColumns {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property({ length: 80 }) name!: string;
  @Property({ length: 16 }) status!: string;
  @Property() balanceCents!: number;
  @Property({ type: 'text', nullable: true }) notes?: string;
  @Property({ columnType: 'timestamptz' }) updatedAt!: Date;
}

@Entity({ tableName: 'ledger_account' })
@Master('ledger-account')
export class LedgerAccount extends AccountColumns {}

@Entity({ tableName: 'ledger_transfer' })
@Master('ledger-transfer')
export class LedgerTransfer {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => LedgerAccount) payer!: LedgerAccount;
  @ManyToOne(() => LedgerAccount) payee!: LedgerAccount;
  @Property() amountCents!: number;
  @Property({ length: 140 }) memo!: string;
  @Property({ columnType: 'timestamptz' }) bookedAt!: Date;
}

@Entity({ tableName: 'ledger_account_copy' })
@Replica('ledger-account')
export class LedgerAccountCopy extends AccountColumns {}

@Entity({ tableName: 'ledger_transfer_copy' })
@Replica('ledger-transfer')
export class LedgerTransferCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => LedgerAccountCopy) payer!: LedgerAccountCopy;
  @ManyToOne(() => LedgerAccountCopy) payee!: LedgerAccountCopy;
  @Property() amountCents!: number;
  @Property({ length: 140 }) memo!: string;
  @Property({ columnType: 'timestamptz' }) bookedAt!: Date;
}

/** The columns master and replica tables share, per table: what "the replica equals the master" compares. */
export const LEDGER_COLUMNS = {
  account: ['id', 'name', 'status', 'balance_cents', 'notes', 'updated_at'],
  transfer: ['id', 'payer_id', 'payee_id', 'amount_cents', 'memo', 'booked_at'],
};
