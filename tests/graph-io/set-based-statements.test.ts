import 'reflect-metadata';
import { EntitySync, exportGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from './helpers/sql.js';

@Entity({ tableName: 'warehouse' })
class Warehouse {
  @PrimaryKey({ autoincrement: false }) id!: number;
}

@Entity({ tableName: 'bin' })
class Bin {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => Warehouse) warehouse!: Warehouse;
}

@Entity({ tableName: 'part' })
class Part {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
}

@Entity({ tableName: 'stock' })
class Stock {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => Bin) bin!: Bin;
  @ManyToOne(() => Part) part!: Part;
}

// Warehouse 1 is tiny; warehouse 2 holds tens of thousands of rows on the same two owned levels.
const BIG = { bins: 3_000, stock: 24_000, parts: 500 };

for (const backend of testBackends()) {
  const test = suite(`statement counts do not grow with rows [${backend.name}]`);
  let orm: MikroORM;

  test.before(async () => {
    orm = await backend.createOrm({ entities: [Warehouse, Bin, Part, Stock], extensions: [EntitySync] });
    await sql(orm, `insert into $s.warehouse values (1), (2)`);
    await sql(orm, `insert into $s.part select g, 'part ' || g from generate_series(1, ${BIG.parts}) g`);
    await sql(orm, `insert into $s.bin select g, case when g <= 2 then 1 else 2 end from generate_series(1, ${BIG.bins + 2}) g`);
    await sql(orm, `insert into $s.stock select g, case when g <= 3 then 1 + g % 2 else 3 + g % ${BIG.bins} end, 1 + g % ${BIG.parts} ` +
      `from generate_series(1, ${BIG.stock + 3}) g`);
  });
  test.after(async () => {
    await orm.close();
  });

  test('a warehouse with 24,000 stock rows takes as many statements as one with 3', async () => {
    const small = await exportGraph(orm.em.fork(), { entity: Warehouse, key: 1 });
    const large = await exportGraph(orm.em.fork(), { entity: Warehouse, key: 2 });
    assert.equal(small.header.entities.map((e) => e.name), large.header.entities.map((e) => e.name), 'the same relations and depth');
    assert.ok(large.rows > 1_000 * small.rows, `${large.rows} rows vs ${small.rows}`);
    assert.is(large.statements, small.statements, `${large.statements} statements for ${large.rows} rows, ${small.statements} for ${small.rows}`);
  });

  test('five hundred roots take the statements of one', async () => {
    const one = await exportGraph(orm.em.fork(), { entity: Bin, key: 3 });
    const many = await exportGraph(orm.em.fork(), Array.from({ length: 500 }, (_, i) => ({ entity: Bin, key: 3 + i })));
    assert.ok(many.rows > 100 * one.rows, `${many.rows} rows vs ${one.rows}`);
    assert.is(many.statements, one.statements);
  });

  test.run();
}
