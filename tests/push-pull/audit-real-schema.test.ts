// The audit trail on a schema not designed for it (tests/fixtures/real-schema): a partitioned
// table whose rows move between partitions, generated columns, BEFORE UPDATE triggers that set
// columns of their own, identity keys, a quoted mixed-case table and column names, bytea and
// text[] values. What the trail records is what the row became, whoever computed it.
import 'reflect-metadata';
import { auditedRowAt, auditTrail, installAudit } from '@entity-sync/adapters/mikro-orm';
import type { AuditEntry } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { openRealSchema, type RealSchemaDatabase } from '../fixtures/real-schema/load.js';

const AUDITED = ['Attendance', 'ClassRoom', 'Guardian', 'Instrument', 'Student'];

for (const backend of testBackends()) {
  const test = suite(`push/pull: audit trail on a real schema [${backend.name}]`);
  let db: RealSchemaDatabase;
  // the fixture's own search path (on PGlite its tables are in a schema of the test's)
  const sql = (text: string) => backend.executeScript(db.orm, text);
  const trail = async (model: string) => (await auditTrail(db.orm.em.fork(), { model, order: 'oldest', limit: 1000 })).entries;
  const changed = (entry: AuditEntry) => Object.keys(entry.changes).sort();

  test.before.each(async () => {
    db = await openRealSchema(backend);
    assert.equal(await installAudit(db.orm.em.fork(), { models: AUDITED }), AUDITED);
  });
  test.after.each(() => db.orm.close());

  test('a generated column and a BEFORE UPDATE trigger\'s column are recorded with the change that moved them', async () => {
    await sql(`update student set given_name = 'Léna' where student_id = 1`);
    const [entry] = await trail('Student');
    assert.equal([entry!.operation, entry!.key, changed(entry!)], ['update', 1, ['fullName', 'givenName', 'lastUpdate']]);
    assert.equal([entry!.changes.givenName, entry!.changes.fullName], [{ old: 'Lena', new: 'Léna' }, { old: 'Lena Novák', new: 'Léna Novák' }]);
    await sql(`update student set tags = tags where student_id = 1`);
    const [, again] = await trail('Student');
    assert.equal(changed(again!), ['lastUpdate'], 'the trigger changed last_update: that is a change, and only it is recorded');
  });

  test('a row moved to another partition is one update of its partition key; the partitions themselves need nothing', async () => {
    await sql(`update attendance set lesson_date = '2025-02-03', remark = 'moved' where attendance_id = 1`);
    await sql(`insert into attendance (lesson_date, enrolment_id, present, recorded_at) values ('2023-05-05', 1, true, '2023-05-05 10:00+00')`);
    await sql(`delete from attendance where attendance_id = 2`);
    const entries = await trail('Attendance');
    const all = ['attendanceId', 'enrolment', 'lessonDate', 'minutes', 'present', 'recordedAt', 'remark'];
    assert.equal(entries.map((entry) => [entry.operation, changed(entry)]), [['update', ['lessonDate', 'remark']], ['create', all], ['delete', all]]);
    assert.equal(entries[0]!.changes.lessonDate, { old: '2024-09-02', new: '2025-02-03' });
    const [{ t }] = await db.orm.em.getConnection().execute(`select to_json(clock_timestamp() - interval '1 hour') #>> '{}' as t`);
    assert.equal((await auditedRowAt(db.orm.em.fork(), 'Attendance', entries[0]!.key, new Date(t)))?.lessonDate, '2024-09-02', 'rebuilt in the partition it was in');
  });

  test('quoted mixed-case names, identity keys, bytea and arrays come through as the database writes them', async () => {
    await sql(`update "ClassRoom" set "hasPiano" = not "hasPiano" where "roomNo" = 101`);
    await sql(`update instrument set photo = '\\x00ff'::bytea, purchase_price = purchase_price + 0.01 where instrument_id = 1`);
    await sql(`insert into guardian (full_name, email) values ('New Guardian', 'NEW@Example.org')`);
    const [room] = await trail('ClassRoom');
    assert.equal([room!.key, changed(room!)], [101, ['hasPiano', 'lastUpdate']]);
    const [instrument] = await trail('Instrument');
    assert.equal(instrument!.changes.photo, { old: '\\x89504e470d0a1a0a0000000d49484452', new: '\\x00ff' });
    assert.equal(instrument!.changes.purchasePrice, { old: 1890.00, new: 1890.01 });
    const [guardian] = await trail('Guardian');
    assert.is(guardian!.operation, 'create');
    assert.is(guardian!.changes.email!.new, 'new@example.org', 'as the BEFORE INSERT trigger wrote it');
    assert.ok(typeof guardian!.key === 'number' && guardian!.key > 0, 'the identity value the database gave');
  });

  test.run();
}
