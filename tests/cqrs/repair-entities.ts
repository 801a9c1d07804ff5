import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Entity, ManyToOne, OptionalProps, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Master, Replica } from '@entity-sync/core';

// Masters and replicas with the primary-key shapes the repair tools must handle besides the
// library's integer Author: a uuid, a text key, and a composite key with a foreign-key part.
// CQRS ids and tables carry a `repair` prefix: the registry is shared by every test file of the process.

/** uuid key; `secret` is never published. */
@Entity({ tableName: 'repair_ticket' })
@Master('repair-ticket', { exclude: ['secret'] })
export class RepairTicket {
  @PrimaryKey({ type: 'uuid' }) id: string = randomUUID();
  @Property() title!: string;
  @Property() priority!: number;
  @Property({ nullable: true }) secret?: string;
}

@Entity({ tableName: 'repair_ticket_copy' })
@Replica('repair-ticket')
export class RepairTicketCopy {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property() title!: string;
  @Property() priority!: number;
  @Property({ nullable: true }) secret?: string;
}

/** text key; internal currencies are not published. */
@Entity({ tableName: 'repair_currency' })
@Master('repair-currency', { shouldSync: (currency: RepairCurrency) => !currency.internal })
export class RepairCurrency {
  [OptionalProps]?: 'internal';
  @PrimaryKey({ type: 'text' }) code!: string;
  @Property() name!: string;
  @Property({ default: false }) internal: boolean = false;
}

@Entity({ tableName: 'repair_currency_copy' })
@Replica('repair-currency', { fields: { name: 'label' } })
export class RepairCurrencyCopy {
  @PrimaryKey({ type: 'text' }) code!: string;
  @Property() label!: string;
}

/** A plain entity the composite key points at. */
@Entity({ tableName: 'repair_shelf' })
export class RepairShelf {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

/** Composite key (shelf, code) whose first part is a foreign key. */
@Entity({ tableName: 'repair_slot' })
@Master('repair-slot')
export class RepairSlot {
  [PrimaryKeyProp]?: ['shelf', 'code'];
  @ManyToOne(() => RepairShelf, { primary: true }) shelf!: RepairShelf;
  @PrimaryKey({ type: 'text' }) code!: string;
  @Property() label!: string;
}

/** The replica keeps the key as plain columns, matched to the master's key by position. */
@Entity({ tableName: 'repair_slot_copy' })
@Replica('repair-slot')
export class RepairSlotCopy {
  [PrimaryKeyProp]?: ['shelfId', 'code'];
  @PrimaryKey({ autoincrement: false }) shelfId!: number;
  @PrimaryKey({ type: 'text' }) code!: string;
  @Property() label!: string;
}

export const repairMasterEntities = [RepairTicket, RepairCurrency, RepairShelf, RepairSlot];
export const repairReplicaEntities = [RepairTicketCopy, RepairCurrencyCopy, RepairSlotCopy];
