// Keys that one table's decisions hand to another: shared and stepped sequences in dry runs, unique
// values made of foreign keys under remap, and columns @SyncModel keeps back in a delete.
import 'reflect-metadata';
import { deleteGraph, EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout } from '../support/timeout.js';

// Both tables draw from one sequence nobody owns, ten at a time, as legacy schemas do.
@Entity({ tableName: 'kx_order' })
class Order {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

@Entity({ tableName: 'kx_line' })
class Line {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Order) order!: Order;
  @Property() qty!: number;
}

@Entity({ tableName: 'kx_folder' })
@Unique({ properties: ['parent', 'name'] })
class Folder {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @ManyToOne(() => Folder, { nullable: true }) parent?: Folder;
}

@Entity({ tableName: 'kx_user' })
class User {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

@Entity({ tableName: 'kx_note' })
@SyncModel({ exclude: ['author'] })
class Note {
  @PrimaryKey() id!: number;
  @Property() text!: string;
  @ManyToOne(() => User, { deleteRule: 'no action' }) author!: User;
}

const SHARED_SEQUENCE = `
  CREATE SEQUENCE kx_ids INCREMENT BY 10 START WITH 100;
  CREATE TABLE kx_order (id int PRIMARY KEY DEFAULT nextval('kx_ids'), name text NOT NULL);
  CREATE TABLE kx_line (id int PRIMARY KEY DEFAULT nextval('kx_ids'), order_id int NOT NULL REFERENCES kx_order (id), qty int NOT NULL);
  INSERT INTO kx_order (id, name) VALUES (1, 'first');
  INSERT INTO kx_line (id, order_id, qty) VALUES (2, 1, 5), (3, 1, 7);`;

const withoutCounts = (report: { idMap: unknown; sequences: unknown }) => ({ idMap: report.idMap, sequences: report.sequences });

for (const backend of testBackends()) {
  const test = suite(`graph shapes: keys across tables [${backend.name}]`);

  test('a remap dry run reports the ids the real run gives when two tables share a sequence that steps by ten', withTimeout(async () => {
    const orm = await backend.createOrm({ entities: [Order, Line], extensions: [EntitySync], createSchema: false });
    try {
      await backend.executeScript(orm, SHARED_SEQUENCE);
      const exported = await exportGraph(orm.em.fork(), { entity: Order, key: 1 }, { exportedAt: null });
      const dry = await importGraph(orm.em.fork(), exported.document!, { onConflict: 'remap', dryRun: true });
      const real = await importGraph(orm.em.fork(), exported.document!, { onConflict: 'remap' });
      assert.equal(withoutCounts(dry), withoutCounts(real));
      assert.equal(real.idMap.Order, [[['1'], ['100']]]);
      assert.equal(real.idMap.Line, [[['2'], ['110']], [['3'], ['120']]]);
      const line = await orm.em.fork().findOneOrFail(Line, 110, { populate: ['order'] });
      assert.is(line.order.id, 100);
    } finally {
      await orm.close();
    }
  }));

  test('a unique key over a self-reference is checked with the remapped parent, not the one in the file', withTimeout(async () => {
    const orm = await backend.createOrm({ entities: [Folder], extensions: [EntitySync] });
    try {
      const em = orm.em.fork();
      const root = em.create(Folder, { id: 1, name: 'root' });
      em.create(Folder, { id: 2, name: 'docs', parent: root });
      await em.flush();
      const exported = await exportGraph(orm.em.fork(), { entity: Folder, key: 1 }, { exportedAt: null });
      const report = await importGraph(orm.em.fork(), exported.document!, { onConflict: 'remap' });
      assert.is(report.entities.Folder!.remapped, 2);
      const copies = await orm.em.fork().find(Folder, { id: { $gt: 2 } }, { orderBy: { id: 'asc' }, populate: ['parent'] });
      assert.equal(copies.map((f) => [f.name, f.parent?.id ?? null]), [['root', null], ['docs', copies[0]!.id]]);
    } finally {
      await orm.close();
    }
  }));

  test('a delete follows a foreign key that @SyncModel keeps out of documents: the rows holding it go too', withTimeout(async () => {
    const orm = await backend.createOrm({ entities: [User, Note], extensions: [EntitySync] });
    try {
      const em = orm.em.fork();
      const author = em.create(User, { id: 1, name: 'Ada' });
      em.create(Note, { id: 1, text: 'hello', author });
      await em.flush();
      const plan = await deleteGraph(orm.em.fork(), { entity: User, key: 1 }, { dryRun: true });
      assert.equal(plan.entities, { User: 1, Note: 1 });
      await deleteGraph(orm.em.fork(), { entity: User, key: 1 });
      assert.is(await orm.em.fork().count(Note), 0);
    } finally {
      await orm.close();
    }
  }));

  test.run();
}
