import 'reflect-metadata';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { Embeddable, Embedded, Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { databaseForeignKeys, describeEdges, graphForeignKeys } from '../support/catalog.js';
import { discover, rejection } from '../support/discover.js';

@Embeddable()
class Address {
  @Property() street!: string;
  @Property({ nullable: true }) city?: string;
}

@Entity({ discriminatorColumn: 'kind' })
class Party {
  @PrimaryKey() id!: number;
  @Property() kind!: string;
  @Embedded(() => Address) address!: Address;
  @Embedded(() => Address, { object: true, nullable: true }) billing?: Address;
}

@Entity({ discriminatorValue: 'company' })
class Company extends Party {
  @Property({ nullable: true }) vatId?: string;
  @ManyToOne(() => Party, { nullable: true }) parent?: Party;
}

@Entity()
class Warehouse {
  @PrimaryKey() code!: string;
  @PrimaryKey() site!: string;
}

/** A composite key made of a foreign key and a number, pointing at another composite key. */
@Entity()
class Shelf {
  @ManyToOne(() => Warehouse, { primary: true }) warehouse!: Warehouse;
  @PrimaryKey() number!: number;
}

@Entity()
class Bin {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Shelf) shelf!: Shelf;
}

@Embeddable()
class Placement {
  @ManyToOne(() => Warehouse) warehouse!: Warehouse;
}

@Entity()
class Pallet {
  @PrimaryKey() id!: number;
  @Embedded(() => Placement) placement!: Placement;
}

const entities = [Address, Party, Company, Warehouse, Shelf, Bin];

for (const backend of testBackends()) {
  const test = suite(`mapping shapes in the relation graph [${backend.name}]`);

  test('embedded properties become the columns they are stored in', async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      const party = EntitySync.of(orm).graph.node('Party');
      assert.equal(party.columns.map((c) => `${c.name}<-${c.property}`), [
        'id<-id', 'kind<-kind', 'address_street<-address.street', 'address_city<-address.city', 'billing<-billing',
        'vat_id<-vatId', 'parent_id<-parent',
      ]);
      const columns = await orm.em.getConnection().execute<{ column_name: string }[]>(
        `select column_name from information_schema.columns where table_schema = ? and table_name = 'party' order by column_name`,
        [orm.config.get('schema') ?? 'public']);
      assert.equal(columns.map((row) => row.column_name), party.columns.map((c) => c.name).sort());
    } finally {
      await orm.close();
    }
  });

  test('single-table inheritance: subclasses share the root table and the root carries the relations', async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      const { graph } = EntitySync.of(orm);
      const company = graph.node('Company');
      assert.is(company.table, 'party');
      assert.equal(company.inheritance, { root: 'Party', discriminatorColumn: 'kind', discriminatorValue: 'company' });
      assert.is(graph.node('Party').inheritance, undefined);
      assert.is(graph.nodeForTable('party')?.name, 'Party');
      assert.equal(graph.edgesFrom('Company'), []);
      assert.equal(graph.needs('Party').map((edge) => `${edge.name}->${edge.to}`), ['Party.parent->Party']);
    } finally {
      await orm.close();
    }
  });

  test('composite keys and a foreign key inside a primary key', async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      const { graph } = EntitySync.of(orm);
      assert.equal(graph.node('Shelf').primaryKey, ['warehouse_code', 'warehouse_site', 'number']);
      assert.equal(describeEdges(graph).filter((line) => /Shelf|Bin/.test(line)), [
        'Bin.shelf: many-to-one Bin->Shelf via Bin(shelf_warehouse_code,shelf_warehouse_site,shelf_number)->Shelf(warehouse_code,warehouse_site,number) [owner required] inverse=Shelf<-Bin.shelf',
        'Shelf.warehouse: many-to-one Shelf->Warehouse via Shelf(warehouse_code,warehouse_site)->Warehouse(code,site) [owner required] inverse=Warehouse<-Shelf.warehouse',
        'Shelf<-Bin.shelf: one-to-many Shelf->Bin via Bin(shelf_warehouse_code,shelf_warehouse_site,shelf_number)->Shelf(warehouse_code,warehouse_site,number) [inverse nullable] inverse=Bin.shelf',
        'Warehouse<-Shelf.warehouse: one-to-many Warehouse->Shelf via Shelf(warehouse_code,warehouse_site)->Warehouse(code,site) [inverse nullable] inverse=Shelf.warehouse',
      ]);
      assert.equal(graphForeignKeys(graph), await databaseForeignKeys(orm));
    } finally {
      await orm.close();
    }
  });

  test.run();
}

const refused = suite('mapping shapes the graph refuses');

refused('a relation inside an embeddable fails at start-up with the entity and property', async () => {
  const error = await rejection(discover([Warehouse, Placement, Pallet]));
  assert.is(error.code, 'MAPPING_UNSUPPORTED');
  assert.is(error.message, 'Pallet.placement.warehouse: a relation inside an embeddable is not supported; move the relation onto the entity itself.');
});

refused.run();
