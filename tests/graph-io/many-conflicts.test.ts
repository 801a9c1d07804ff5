import 'reflect-metadata';
import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { count, sql } from './helpers/sql.js';

@Entity({ tableName: 'meter' })
class Meter {
  @PrimaryKey({ autoincrement: false }) id!: number;
}

@Entity({ tableName: 'reading' })
class Reading {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => Meter) meter!: Meter;
  @Property() value!: string;
}

// more conflicts than a call can take as arguments (about 125,000 on Node's default stack)
const READINGS = 200_000;

for (const backend of testBackends()) {
  const test = suite(`an import whose every row exists already [${backend.name}]`, { timeoutMs: 120_000 });
  let orm: MikroORM;

  test.before(async () => {
    orm = await backend.createOrm({ entities: [Meter, Reading], extensions: [EntitySync] });
    await sql(orm, `insert into $s.meter values (1)`);
    await sql(orm, `insert into $s.reading select g, 1, 'reading ' || g from generate_series(1, ${READINGS}) g`);
  });
  test.after(async () => {
    await orm.close();
  });

  test('a re-import of 200,000 rows reports each as a conflict: skipped in a dry run, refused under the default policy, the differing row named first', async () => {
    const exported = await exportGraph(orm.em.fork(), { entity: Meter, key: 1 });
    assert.is(exported.rows, READINGS + 1);
    const document = exported.document!;
    await sql(orm, `update $s.reading set value = 'changed' where id = 7`);
    const report = await importGraph(orm.em.fork(), document, { dryRun: true, onConflict: 'skip' });
    assert.is(report.conflicts.length, READINGS + 1);
    // in the order of the keys' type, as the target orders them (not 1, 10, 100)
    assert.equal(report.conflicts.filter((conflict) => conflict.entity === 'Reading').slice(0, 3).map((conflict) => conflict.key), [['1'], ['2'], ['3']]);
    assert.equal(report.entities.Reading, { created: 0, updated: 0, skipped: READINGS, remapped: 0, reused: 0 });
    assert.equal(report.conflicts.filter((conflict) => conflict.differingColumns.length).map((conflict) => [conflict.entity, conflict.key, conflict.differingColumns]),
      [['Reading', ['7'], ['value']]]);
    const refused = await importGraph(orm.em.fork(), document).then(() => undefined, (caught: unknown) => caught);
    assert.ok(isEntitySyncError(refused) && refused.code === 'IMPORT_CONFLICT', String(refused));
    assert.match(refused.message, `${READINGS + 1} row(s) of the document already exist`);
    // the one row that differs is listed before the identical ones
    assert.match(refused.message, `1 of them differ from the target's rows (listed first):\n  - Reading ["7"]: primary key exists (differs in value)\n`);
    assert.is(await count(orm, `select count(*) as n from $s.reading where value = 'changed'`), 1, 'nothing written');
  });

  test.run();
}
