import 'reflect-metadata';
import { SyncModel } from '@entity-sync/core';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@entity-sync/testing/mikro-orm';

// Reference data as an app keeps it in every environment: regions, currencies, countries (in a
// region, paying in a currency), languages spoken in a country, and the copy texts of the UI in
// each language. Surrogate ids are serials, different in every database; a row is named by its
// natural key, which for languages and copy texts runs through their parents (dotted paths).
// Every natural key has its unique index and every foreign key an index, as the lookups by
// natural key of a pull need.

@Entity()
@SyncModel({ naturalKey: ['code'], referenceData: true })
export class Region {
  @PrimaryKey() id!: number;
  @Property({ length: 12, unique: true }) code!: string;
  @Property() name!: string;
}

@Entity()
@SyncModel({ naturalKey: ['code'], referenceData: true })
export class Currency {
  @PrimaryKey() id!: number;
  @Property({ length: 12, unique: true }) code!: string;
  @Property() name!: string;
  @Property({ length: 8 }) symbol!: string;
  @Property({ type: 'smallint' }) decimals!: number;
}

@Entity()
@SyncModel({ naturalKey: ['code'], referenceData: true })
export class Country {
  @PrimaryKey() id!: number;
  @Property({ length: 12, unique: true }) code!: string;
  @Property() name!: string;
  @ManyToOne(() => Region, { index: true }) region!: Region;
  @ManyToOne(() => Currency, { index: true }) currency!: Currency;
  @Property({ length: 8, nullable: true }) phonePrefix?: string;
  @Property() active!: boolean;
}

@Entity()
@Unique({ properties: ['country', 'code'] })
@SyncModel({ naturalKey: ['country.code', 'code'], referenceData: true })
export class Language {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Country, { index: true }) country!: Country;
  @Property({ length: 12 }) code!: string;
  @Property() name!: string;
  @Property() rightToLeft!: boolean;
}

@Entity()
@Unique({ properties: ['language', 'key'] })
@SyncModel({ naturalKey: ['language.country.code', 'language.code', 'key'], referenceData: true })
export class CopyText {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Language, { index: true }) language!: Language;
  @Property({ length: 80 }) key!: string;
  @Property({ type: 'text' }) body!: string;
  @Property({ length: 16 }) format!: string;
  @Property({ nullable: true }) maxLength?: number;
}

/** The syncable set, parents before children. */
export const referenceEntities = [Region, Currency, Country, Language, CopyText];

/** Their tables, in the same order. */
export const referenceTables = ['region', 'currency', 'country', 'language', 'copy_text'] as const;

export type ReferenceTable = (typeof referenceTables)[number];
