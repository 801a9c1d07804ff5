import 'reflect-metadata';
import { deleteGraph, EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM, type Rel } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tableChecksums } from '../support/checksums.js';
import { withTimeout } from '../support/timeout.js';

// Every department has a head, every employee a department: both keys NOT NULL and NOT DEFERRABLE,
// so neither table's rows can go in (or out) before the other's.
@Entity({ tableName: 'nn_department' })
class Department {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @ManyToOne(() => Employee, { fieldName: 'head_id' }) head!: Rel<Employee>;
}

@Entity({ tableName: 'nn_employee' })
class Employee {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @ManyToOne(() => Department, { fieldName: 'department_id' }) department!: Department;
}

@Entity({ tableName: 'nn_badge' })
class Badge {
  @PrimaryKey() id!: number;
  @ManyToOne(() => Employee, { fieldName: 'employee_id' }) employee!: Employee;
}

const entities = [Department, Employee, Badge];

async function seed(orm: MikroORM): Promise<void> {
  const schema = orm.config.get('schema') ?? 'public';
  const q = (table: string) => `"${schema}"."${table}"`;
  await orm.em.getConnection().execute(
    `WITH d AS (INSERT INTO ${q('nn_department')} (id, name, head_id) VALUES (1, 'Research', 10), (2, 'Sales', 20)), ` +
    `e AS (INSERT INTO ${q('nn_employee')} (id, name, department_id) VALUES (10, 'Ada', 1), (11, 'Bo', 1), (20, 'Cy', 2)) ` +
    `INSERT INTO ${q('nn_badge')} (id, employee_id) VALUES (100, 10), (101, 11), (200, 20)`);
  await orm.em.getConnection().execute(`SELECT setval(pg_get_serial_sequence('${q('nn_department')}', 'id'), 2), ` +
    `setval(pg_get_serial_sequence('${q('nn_employee')}', 'id'), 20), setval(pg_get_serial_sequence('${q('nn_badge')}', 'id'), 200)`);
}

for (const backend of testBackends()) {
  const test = suite(`graph shapes: a NOT NULL, non-deferrable cycle [${backend.name}]`);

  test('is exported, imported into an empty database, and re-exported to the same bytes', withTimeout(async () => {
    const source = await backend.createOrm({ entities, extensions: [EntitySync] });
    const target = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(source);
      const exported = await exportGraph(source.em.fork(), { entity: Department, key: 1 }, { exportedAt: null });
      assert.equal(exported.header.entities.map((e) => `${e.name}:${e.rows}`), ['Department:1', 'Employee:2', 'Badge:2']);
      const report = await importGraph(target.em.fork(), exported.document!);
      assert.equal(Object.fromEntries(Object.entries(report.entities).map(([name, counts]) => [name, counts.created])), { Department: 1, Employee: 2, Badge: 2 });
      const again = await exportGraph(target.em.fork(), { entity: Department, key: 1 }, { exportedAt: null });
      assert.is(again.text, exported.text);
    } finally {
      await source.close();
      await target.close();
    }
  }));

  test('is remapped into its own database as a consistent copy', withTimeout(async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(orm);
      const exported = await exportGraph(orm.em.fork(), { entity: Department, key: 1 }, { exportedAt: null });
      const report = await importGraph(orm.em.fork(), exported.document!, { onConflict: 'remap' });
      const [[, [newId]]] = report.idMap.Department! as [unknown, [string]][];
      const copy = await orm.em.fork().findOneOrFail(Department, Number(newId), { populate: ['head.department'] });
      assert.is(copy.head.department.id, copy.id, 'the head of the copy works in the copy');
      assert.ok(copy.head.id > 20, 'the head is a new employee');
      const staff = await orm.em.fork().find(Employee, { department: copy.id }, { orderBy: { id: 'asc' } });
      assert.equal(staff.map((e) => e.name), ['Ada', 'Bo']);
      assert.is(await orm.em.fork().count(Badge, { employee: { department: copy.id } }), 2);
    } finally {
      await orm.close();
    }
  }));

  test('is deleted in a dry run and for real, without a database error, leaving the other department whole', withTimeout(async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(orm);
      const before = await tableChecksums(orm);
      const plan = await deleteGraph(orm.em.fork(), { entity: Department, key: 1 }, { dryRun: true });
      assert.equal(plan.entities, { Department: 1, Employee: 2, Badge: 2 });
      assert.equal(await tableChecksums(orm), before, 'a dry run changes nothing');
      const report = await deleteGraph(orm.em.fork(), { entity: Department, key: 1 });
      assert.equal(report.entities, plan.entities);
      const left = await orm.em.fork().find(Employee, {}, { orderBy: { id: 'asc' } });
      assert.equal(left.map((e) => e.name), ['Cy']);
      assert.is(await orm.em.fork().count(Department), 1);
    } finally {
      await orm.close();
    }
  }));

  test("a conflict inside the cycle blocks the rows below it in both tables, and is reported as the conflict it is", withTimeout(async () => {
    const source = await backend.createOrm({ entities, extensions: [EntitySync] });
    const target = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      // the file: departments 1 and 2, department 2 headed by employee 11 of department 1
      const q = (orm: MikroORM, table: string) => `"${orm.config.get('schema') ?? 'public'}"."${table}"`;
      await source.em.getConnection().execute(
        `WITH d AS (INSERT INTO ${q(source, 'nn_department')} (id, name, head_id) VALUES (1, 'Research', 10), (2, 'Sales', 11)) ` +
        `INSERT INTO ${q(source, 'nn_employee')} (id, name, department_id) VALUES (10, 'Ada', 1), (11, 'Bo', 1)`);
      // the target already has department 1 and its head
      await target.em.getConnection().execute(
        `WITH d AS (INSERT INTO ${q(target, 'nn_department')} (id, name, head_id) VALUES (1, 'Research', 10)) ` +
        `INSERT INTO ${q(target, 'nn_employee')} (id, name, department_id) VALUES (10, 'Ada', 1)`);
      const before = await tableChecksums(target);
      const exported = await exportGraph(source.em.fork(), [{ entity: Department, key: 1 }, { entity: Department, key: 2 }], { exportedAt: null });
      const error = await importGraph(target.em.fork(), exported.document!).catch((e) => e);
      assert.is(error.code, 'IMPORT_CONFLICT', error.message);
      assert.equal(error.info.conflicts.map((c: { entity: string; key: string[] }) => `${c.entity} ${c.key}`).sort(), ['Department 1', 'Employee 10']);
      assert.equal(await tableChecksums(target), before);
    } finally {
      await source.close();
      await target.close();
    }
  }));

  test.run();
}
