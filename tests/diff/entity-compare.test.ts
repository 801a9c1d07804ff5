// Two fromEntity sources of one database compare in it (`sql`): one query joins the two tables'
// rows by the key's columns, and only the rows that may differ are read through the ORM. The
// properties map to columns of other names on each side, a relation is compared by its foreign
// key, and the results are exactly those of reading both sides whole (`hash`): updates of every
// type, NULL changes both ways, creates, deletes, a duplicated and a null key, with and without a
// filter. Properties the two read differently, or a filtered entity, fall back to reading both.
import 'reflect-metadata';
import { EntitySync, fromEntity } from '@entity-sync/adapters/mikro-orm';
import { diff, isEntitySyncError, SyncModel, type DiffOptions, type DiffResult } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'ec_school' })
class EcSchool {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

/** What should be: a roster loaded into a staging table, no unique key (duplicates and nulls are possible). */
@Entity({ tableName: 'ec_roster' })
class EcRoster {
  @PrimaryKey() id!: number;
  @Property({ fieldName: 'student_number', type: 'string', nullable: true }) studentNo?: string | null;
  @Property({ fieldName: 'full_name' }) name!: string;
  @Property({ fieldName: 'room', type: 'string', nullable: true }) homeroom?: string | null;
  @Property({ fieldName: 'points' }) score!: number;
  @Property({ fieldName: 'is_active' }) active!: boolean;
  @Property({ fieldName: 'enrolled_at', type: 'datetime', nullable: true }) enrolled?: Date | null;
  @ManyToOne(() => EcSchool, { fieldName: 'school_ref' }) school!: EcSchool;
  @Property({ fieldName: 'nick', type: 'string', nullable: true, columnType: 'text' }) nickname?: string | null;
}

/** What is: the app's students, keyed by their number. */
@Entity({ tableName: 'ec_student' })
@SyncModel({ naturalKey: ['studentNo'] })
class EcStudent {
  @PrimaryKey() id!: number;
  @Property({ unique: true }) studentNo!: string;
  @Property() name!: string;
  @Property({ type: 'string', nullable: true }) homeroom?: string | null;
  @Property() score!: number;
  @Property() active!: boolean;
  @Property({ type: 'datetime', nullable: true }) enrolled?: Date | null;
  @ManyToOne(() => EcSchool) school!: EcSchool;
  // read as varchar here, text on the roster: compared only by reading both sides
  @Property({ type: 'string', nullable: true }) nickname?: string | null;
}

const ROWS = 2000;
const FIELDS = ['name', 'homeroom', 'score', 'active', 'enrolled', 'school'];

/** Actions and problems as comparable lists: [action, key, changed fields with old and new] and [problem, side, key, records]. */
function shown(result: DiffResult) {
  const value = (v: unknown) => (v instanceof Date ? v.toISOString() : v);
  return {
    actions: result.actions.map((a) => JSON.stringify([a.action, a.key, a.action === 'update' ? a.changes.map((c) => [c.field, value(c.old), value(c.new)]) : []])).sort(),
    problems: result.problems.map((p) => JSON.stringify([p.problem, p.side, p.key, p.records.length])).sort(),
    counts: result.counts,
  };
}

for (const backend of testBackends()) {
  const test = suite(`diff: two entities of one database [${backend.name}]`);
  let orm: MikroORM;
  let schema: string;

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [EcSchool, EcRoster, EcStudent], extensions: [EntitySync] });
    schema = orm.config.get('schema') ?? 'public';
    const run = (sql: string) => orm.em.getConnection().execute(sql);
    await run(`insert into "${schema}".ec_school (id, name) values (1, 'north'), (2, 'south')`);
    await run(`insert into "${schema}".ec_student (id, student_no, name, homeroom, score, active, enrolled, school_id, nickname) ` +
      `select i, 's' || lpad(i::text, 5, '0'), 'student ' || i, case when i % 50 = 0 then null else 'room ' || (i % 40) end, i % 97, i % 9 <> 0, ` +
      `timestamptz '2024-09-01 08:00:00+00' + i * interval '1 minute', 1 + i % 2, 'nick ' || i from generate_series(1, ${ROWS}) i`);
    await run(`insert into "${schema}".ec_roster (id, student_number, full_name, room, points, is_active, enrolled_at, school_ref, nick) ` +
      `select id, student_no, name, homeroom, score, active, enrolled, school_id, nickname from "${schema}".ec_student`);
    // the differences: one of each column's type, NULL changes both ways, creates, deletes, a duplicated and a null key
    await run(`update "${schema}".ec_roster set full_name = 'Renamed' where id = 11`);
    await run(`update "${schema}".ec_roster set room = 'moved' where id = 12`);
    await run(`update "${schema}".ec_roster set points = points + 1 where id = 13`);
    await run(`update "${schema}".ec_roster set is_active = not is_active where id = 14`);
    await run(`update "${schema}".ec_roster set enrolled_at = enrolled_at + interval '1 day' where id = 15`);
    await run(`update "${schema}".ec_roster set school_ref = 3 - school_ref where id = 16`);
    await run(`update "${schema}".ec_roster set room = null where id = 17`);
    await run(`update "${schema}".ec_roster set room = 'found' where id = 100`);
    await run(`update "${schema}".ec_roster set enrolled_at = null where id = 18`);
    await run(`update "${schema}".ec_roster set nick = 'other' where id = 19`);
    await run(`delete from "${schema}".ec_roster where id in (21, 22, 23)`);
    await run(`insert into "${schema}".ec_roster (id, student_number, full_name, room, points, is_active, enrolled_at, school_ref) values ` +
      `(5001, 's90001', 'new one', 'room 1', 1, true, null, 1), (5002, 's90002', 'new two', null, 2, false, now(), 2), ` +
      `(5003, 's00030', 'twice', 'room 30', 30, true, null, 1), (5004, null, 'no number', 'room 4', 4, true, null, 2)`);
  });
  test.after.each(() => orm.close());

  const both = async (left: () => ReturnType<typeof fromEntity>, right: () => ReturnType<typeof fromEntity>, options: DiffOptions) => {
    const pushed = await diff(left(), right(), options);
    const whole = await diff(left(), right(), { ...options, strategy: 'hash' });
    return { pushed, whole };
  };

  test('the comparison runs in the database and reads only the rows that differ; the result is that of reading both whole', async () => {
    const { pushed, whole } = await both(() => fromEntity(orm.em.fork(), EcRoster, { key: 'studentNo' }), () => fromEntity(orm.em.fork(), EcStudent),
      { key: 'studentNo', fields: FIELDS });
    assert.is(pushed.strategy, 'sql');
    assert.equal(shown(pushed), shown(whole));
    const updates = pushed.actions.filter((a) => a.action === 'update').map((a) => [a.key[0], a.action === 'update' ? a.changes.map((c) => c.field) : []]);
    assert.equal(updates.sort(), [['s00011', ['name']], ['s00012', ['homeroom']], ['s00013', ['score']], ['s00014', ['active']], ['s00015', ['enrolled']],
      ['s00016', ['school']], ['s00017', ['homeroom']], ['s00018', ['enrolled']], ['s00100', ['homeroom']]].sort());
    assert.equal(pushed.actions.filter((a) => a.action === 'create').map((a) => a.key[0]).sort(), ['s90001', 's90002']);
    assert.equal(pushed.actions.filter((a) => a.action === 'delete').map((a) => a.key[0]).sort(), ['s00021', 's00022', 's00023']);
    assert.equal(shown(pushed).problems, [JSON.stringify(['duplicate-key', 'left', ['s00030'], 2]), JSON.stringify(['null-key', 'left', [null], 1])]);
    assert.is(pushed.counts.unchanged, ROWS - 3 - 10);
    // 9 updated keys on both sides, 2 creates, 3 deletes, the duplicated key's 2 + 1 records, the null key's record
    assert.is(pushed.stats?.rowsFetched, 9 * 2 + 2 + 3 + 3 + 1);
  });

  test('a filter on each side is applied in the database; with no fields named, every property the left record carries is compared', async () => {
    const left = () => fromEntity(orm.em.fork(), EcRoster, { key: 'studentNo', fields: FIELDS, where: { school: 1 } });
    const right = () => fromEntity(orm.em.fork(), EcStudent, { where: { school: 1 } });
    const { pushed, whole } = await both(left, right, { key: 'studentNo' });
    assert.is(pushed.strategy, 'sql');
    assert.equal(shown(pushed), shown(whole));
    // s00016 moved school: it is only on the right of school 1 (its id is even: school 1 on the right, 2 on the left)
    assert.ok(pushed.actions.some((a) => a.action === 'delete' && a.key[0] === 's00016'));
    assert.ok(pushed.stats!.rowsFetched! < 40, `${pushed.stats!.rowsFetched} rows fetched`);
    // one entity under two filters, no fields named: every property its records carry, the id and the relation among them
    const odd = await both(() => fromEntity(orm.em.fork(), EcStudent, { where: { school: 2 } }), () => fromEntity(orm.em.fork(), EcStudent, { where: { score: { $lt: 10 } } }),
      { key: 'studentNo' });
    assert.is(odd.pushed.strategy, 'sql');
    assert.equal(shown(odd.pushed), shown(odd.whole));
    assert.ok(odd.pushed.counts.create > 0 && odd.pushed.counts.delete > 0 && odd.pushed.counts.unchanged > 0, JSON.stringify(odd.pushed.counts));
  });

  test('a property the two read differently, or a field a side does not carry, is compared by reading both; sql asked then is refused', async () => {
    const roster = () => fromEntity(orm.em.fork(), EcRoster, { key: 'studentNo' });
    const { pushed, whole } = await both(roster, () => fromEntity(orm.em.fork(), EcStudent), { key: 'studentNo', fields: [...FIELDS, 'nickname'] });
    assert.is(pushed.strategy, 'hash');
    assert.equal(shown(pushed), shown(whole));
    assert.ok(pushed.actions.some((a) => a.action === 'update' && a.key[0] === 's00019' && a.changes.some((c) => c.field === 'nickname')));
    const narrow = await diff(roster(), fromEntity(orm.em.fork(), EcStudent, { fields: ['name'] }), { key: 'studentNo', fields: ['name', 'score'] });
    assert.is(narrow.strategy, 'hash');
    let error: unknown;
    try {
      await diff(roster(), fromEntity(orm.em.fork(), EcStudent), { key: 'studentNo', fields: ['nickname'], strategy: 'sql' });
    } catch (caught) {
      error = caught;
    }
    assert.ok(isEntitySyncError(error) && error.code === 'DIFF_STRATEGY_UNAVAILABLE', String(error));
  });

  test.run();
}
