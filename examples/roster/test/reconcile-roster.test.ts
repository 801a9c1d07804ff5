// The roster example: the CSV of the system of record against the students table, on every test
// backend. The dry run reports and writes nothing; the run creates, deletes, moves homerooms,
// renames and changes courses through MikroORM in one transaction; a second run finds nothing.
import 'reflect-metadata';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { describeReconcile } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Enrolment, rosterEntities, Student } from '../src/entities.js';
import { reconcileRoster } from '../src/reconcile-roster.js';
import { seedStudents } from '../src/seed.js';

const roster = fileURLToPath(new URL('../roster.csv', import.meta.url)).replace(/^\/+/, '/');

for (const backend of testBackends()) {
  const test = suite(`example: reconcile the roster [${backend.name}]`);
  let orm: MikroORM;
  const state = async () => {
    const em = orm.em.fork();
    const enrolments = await em.find(Enrolment, {}, { populate: ['student'] });
    return (await em.find(Student, {}, { orderBy: { studentNo: 'asc' } })).map((student) => [student.studentNo, student.name, student.homeroom,
      enrolments.filter((enrolment) => enrolment.student.id === student.id).map((enrolment) => enrolment.course).sort()]);
  };

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: rosterEntities, extensions: [EntitySync] });
    await seedStudents(orm);
  });
  test.after.each(() => orm.close());

  test('a dry run reports, the run applies through MikroORM, a rerun finds nothing', async () => {
    const before = await state();
    const dry = await reconcileRoster(orm, roster, { dryRun: true });
    assert.equal(await state(), before, 'the dry run wrote nothing');
    const text = describeReconcile(dry);
    assert.match(text, 'students: 2 to create, 2 to update, 1 to delete, 0 the same');
    assert.match(text, '~ 1001 [homeroom]  planned\n        homeroom: "4C" -> "5A"');
    assert.match(text, '~ 1001 [courses]  planned\n        courses: +"music" -"drama"');
    assert.match(text, '~ 1001 [name]  planned\n        name: "Lena Novak" -> "Lena Novák"');
    const done = await reconcileRoster(orm, roster);
    assert.ok(done.models[0]!.actions.every((item) => item.result === 'done'), describeReconcile(done));
    assert.equal(await state(), [
      [1001, 'Lena Novák', '5A', ['math', 'music']],
      [1002, 'Mateo García-López', '5B', ['math']],
      [1003, 'Aiko Mori', '5A', ['art', 'music']],
      [1005, 'Zoë Okafor', '5B', []],
    ]);
    const again = await reconcileRoster(orm, roster);
    assert.equal(again.models[0]!.counts, { create: 0, update: 0, delete: 0, unchanged: 4, problems: 0 });
  });

  test.run();
}
