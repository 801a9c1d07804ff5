import 'reflect-metadata';
import { Collection, Entity, ManyToMany, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';

// A shop: twelve tables, a many-to-many (product tags) and two self-references (a category
// tree, an employee hierarchy), which are the cycles the import must break.

@Entity() export class Region {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

@Entity() export class Warehouse {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Region) region!: Region;
  @Property() code!: string;
}

@Entity() export class Supplier {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Region) region!: Region;
  @Property() name!: string;
}

@Entity() export class Category {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Category, { nullable: true }) parent?: Category;
  @Property() name!: string;
}

@Entity() export class Tag {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

@Entity() export class Product {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Supplier) supplier!: Supplier;
  @ManyToOne(() => Category) category!: Category;
  @Property() name!: string;
  @Property({ type: 'decimal', precision: 12, scale: 2 }) price!: string;
  @ManyToMany(() => Tag) tags = new Collection<Tag>(this);
}

@Entity() export class Employee {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Employee, { nullable: true }) manager?: Employee;
  @Property() name!: string;
}

@Entity() export class Customer {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Region) region!: Region;
  @ManyToOne(() => Employee, { nullable: true }) accountManager?: Employee;
  @Property() email!: string;
  @Property({ columnType: 'timestamptz' }) createdAt!: Date;
}

@Entity() export class Address {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Customer) customer!: Customer;
  @Property() street!: string;
  @Property() city!: string;
}

@Entity({ tableName: 'orders' }) export class Order {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Customer) customer!: Customer;
  @ManyToOne(() => Address) address!: Address;
  @Property({ columnType: 'timestamptz' }) placedAt!: Date;
  @Property() paid!: boolean;
}

@Entity() export class OrderLine {
  @PrimaryKey({ type: 'bigint' }) id!: string;
  @ManyToOne(() => Order) order!: Order;
  @ManyToOne(() => Product) product!: Product;
  @Property() quantity!: number;
  @Property({ type: 'decimal', precision: 12, scale: 2 }) amount!: string;
}

@Entity() export class Shipment {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Order) order!: Order;
  @ManyToOne(() => Warehouse) warehouse!: Warehouse;
  @Property({ type: 'jsonb', nullable: true }) tracking?: unknown;
}

export const shopEntities = [Region, Warehouse, Supplier, Category, Tag, Product, Employee, Customer, Address, Order, OrderLine, Shipment];
