import 'reflect-metadata';
import { Collection, type Rel } from '@mikro-orm/core';
import { Entity, ManyToMany, ManyToOne, OneToMany, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';

// A multi-store shop. Every store owns its own rows, so a store is a natural graph root and
// the stores together own the whole data set. It carries the shapes the export and import must
// handle: a many-to-many (product tags), two self-references (category tree, employee
// hierarchy) and a two-table cycle (a customer's default address is one of its addresses).
// The cycle's key is deferrable so that a plain COPY can load the tables in one pass. Every
// foreign key is indexed, as in an application that looks rows up by their parent.

@Entity()
export class Country {
  @PrimaryKey() id!: number;
  @Property({ length: 2 }) code!: string;
  @Property() name!: string;
}

@Entity()
export class Store {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Country, { index: true }) country!: Country;
  @Property() name!: string;
  @Property({ columnType: 'timestamptz' }) openedAt!: Date;
  @Property({ type: 'json' }) settings!: Record<string, unknown>;
}

@Entity()
export class Category {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Store, { index: true }) store!: Store;
  @ManyToOne(() => Category, { index: true, nullable: true }) parent?: Category;
  @Property() name!: string;
  @Property() position!: number;
}

@Entity()
export class Tag {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Store, { index: true }) store!: Store;
  @Property({ length: 40 }) label!: string;
}

@Entity()
export class Product {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Store, { index: true }) store!: Store;
  @ManyToOne(() => Category, { index: true }) category!: Category;
  @Property({ length: 32 }) sku!: string;
  @Property() name!: string;
  @Property({ type: 'text' }) description!: string;
  @Property({ type: 'decimal', precision: 12, scale: 2 }) price!: string;
  @Property() active!: boolean;
  @Property({ type: 'json', nullable: true }) attributes?: Record<string, unknown>;
  @Property({ columnType: 'timestamptz' }) createdAt!: Date;
  @ManyToMany(() => Tag, undefined, { pivotTable: 'product_tags' }) tags = new Collection<Tag>(this);
}

@Entity()
export class Employee {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Store, { index: true }) store!: Store;
  @ManyToOne(() => Employee, { index: true, nullable: true }) manager?: Employee;
  @Property() name!: string;
  @Property({ length: 120 }) email!: string;
  @Property({ columnType: 'timestamptz' }) hiredAt!: Date;
  @Property({ type: 'decimal', precision: 10, scale: 2 }) salary!: string;
}

@Entity()
export class Customer {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Store, { index: true }) store!: Store;
  // Rel<> keeps the decorator metadata from naming Address before its class exists
  @ManyToOne(() => Address, { index: true, nullable: true, deferMode: 'deferred', fieldName: 'default_address_id' }) defaultAddress?: Rel<Address>;
  @Property({ length: 120 }) email!: string;
  @Property() name!: string;
  @Property({ type: 'bigint' }) loyaltyPoints!: string;
  @Property() vip!: boolean;
  @Property({ columnType: 'timestamptz' }) createdAt!: Date;
}

@Entity()
export class Address {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Customer, { index: true }) customer!: Customer;
  @ManyToOne(() => Country, { index: true }) country!: Country;
  @Property() street!: string;
  @Property() city!: string;
  @Property({ length: 12 }) postcode!: string;
}

@Entity({ tableName: 'orders' })
export class Order {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Customer, { index: true }) customer!: Customer;
  @ManyToOne(() => Address, { index: true, fieldName: 'shipping_address_id' }) shippingAddress!: Address;
  @ManyToOne(() => Employee, { index: true, nullable: true, fieldName: 'handled_by_id' }) handledBy?: Employee;
  @Property({ columnType: 'timestamptz' }) placedAt!: Date;
  @Property({ length: 16 }) status!: string;
  @Property({ type: 'decimal', precision: 12, scale: 2 }) total!: string;
  @Property() paid!: boolean;
  @Property({ type: 'text', nullable: true }) note?: string;
  @OneToMany(() => OrderLine, (line) => line.order) lines = new Collection<OrderLine>(this);
}

@Entity()
export class OrderLine {
  @PrimaryKey({ type: 'bigint' }) id!: string;
  @ManyToOne(() => Order, { index: true }) order!: Order;
  @ManyToOne(() => Product, { index: true }) product!: Product;
  @Property() quantity!: number;
  @Property({ type: 'decimal', precision: 12, scale: 2 }) unitPrice!: string;
  @Property({ type: 'decimal', precision: 5, scale: 2 }) discount!: string;
}

@Entity()
export class Payment {
  @PrimaryKey({ type: 'bigint' }) id!: string;
  @ManyToOne(() => Order, { index: true }) order!: Order;
  @Property({ type: 'decimal', precision: 12, scale: 2 }) amount!: string;
  @Property({ length: 16 }) method!: string;
  @Property({ type: 'uuid' }) reference!: string;
  @Property({ columnType: 'timestamptz' }) paidAt!: Date;
}

@Entity()
export class Shipment {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Order, { index: true }) order!: Order;
  @Property({ length: 24 }) carrier!: string;
  @Property({ columnType: 'timestamptz', nullable: true }) shippedAt?: Date;
  @Property({ type: 'json', nullable: true }) tracking?: Record<string, unknown>;
}

@Entity()
export class Review {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Product, { index: true }) product!: Product;
  @ManyToOne(() => Customer, { index: true }) customer!: Customer;
  @Property({ type: 'smallint' }) rating!: number;
  @Property({ type: 'text' }) body!: string;
  @Property({ columnType: 'timestamptz' }) createdAt!: Date;
}

export const shopEntities = [Country, Store, Category, Tag, Product, Employee, Customer, Address, Order, OrderLine, Payment, Shipment, Review];
