import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { OptionalProps, PrimaryKeyProp, type EntityManager } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { Master, Replica, type CqrsMessage } from '@entity-sync/core';

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

/** Values of types whose text forms vary (numeric scale, timestamptz offsets, JSON key order); `cost` is never published. */
@Entity({ tableName: 'repair_price' })
@Master('repair-price', { exclude: ['cost'] })
export class RepairPrice {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
  @Property() note!: string;
  @Property() code!: string;
  @Property({ nullable: true }) cost?: number;
  @Property({ type: 'decimal', precision: 10, scale: 3 }) amount!: string;
  @Property({ type: 'datetime' }) validFrom!: Date;
  @Property({ type: 'json' }) attributes!: Record<string, unknown>;
}

/** Renames `name`, transforms `note` into `shout`, drops `code`; `attributes` is a json (not jsonb) column, `amount` numeric of any scale. */
@Entity({ tableName: 'repair_price_copy' })
@Replica('repair-price', { fields: { name: 'label', note: { to: 'shout', transform: (value) => String(value).toUpperCase() }, code: null } })
export class RepairPriceCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() label!: string;
  @Property() shout!: string;
  @Property({ nullable: true }) code?: string;
  @Property({ nullable: true }) cost?: number;
  @Property({ type: 'double', columnType: 'numeric' }) amount!: number;
  @Property({ type: 'datetime' }) validFrom!: Date;
  @Property({ type: 'json', columnType: 'json' }) attributes!: Record<string, unknown>;
}

/** Another replica of the same master that applies messages through its own handlers. */
@Entity({ tableName: 'repair_price_handled' })
@Replica('repair-price', { fields: { name: 'label' } })
export class RepairPriceHandled {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() label!: string;

  static onCqrsCreate(data: Record<string, unknown>, _message: CqrsMessage, em: EntityManager): void {
    em.create(RepairPriceHandled, { id: data.id as number, label: `${String(data.label)} (by the handler)` });
  }

  static async onCqrsUpdate(data: Record<string, unknown>, _message: CqrsMessage, em: EntityManager): Promise<void> {
    await em.nativeUpdate(RepairPriceHandled, { id: data.id as number }, { label: `${String(data.label)} (by the handler)` });
  }
}

/** A replica whose mapping sends a text field into a numeric column: content a diff cannot compare. */
@Entity({ tableName: 'repair_price_mismatch' })
@Replica('repair-price', { fields: { note: 'amount', amount: null } })
export class RepairPriceMismatch {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property({ type: 'double', columnType: 'numeric', nullable: true }) amount?: number;
}

/** Published through a serializer: the replica holds what the serializer returns, not the row. */
@Entity({ tableName: 'repair_badge' })
@Master('repair-badge', { serializer: (badge: RepairBadge) => ({ id: badge.id, title: `#${badge.title}` }) })
export class RepairBadge {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() title!: string;
}

@Entity({ tableName: 'repair_badge_copy' })
@Replica('repair-badge')
export class RepairBadgeCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() title!: string;
}

export const repairMasterEntities = [RepairTicket, RepairCurrency, RepairShelf, RepairSlot, RepairPrice, RepairBadge];
export const repairReplicaEntities = [RepairTicketCopy, RepairCurrencyCopy, RepairSlotCopy, RepairPriceCopy, RepairBadgeCopy];
