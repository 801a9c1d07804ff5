// triggers: 'disable' on a partitioned table: each partition's trigger goes back to its own state.
import 'reflect-metadata';
import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends, type TestBackend } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout } from '../support/timeout.js';

@Entity({ tableName: 'tp_reading' })
class Reading {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() kind!: string;
  @Property() value!: string;
}

// The partitions hold the key; the parent's BEFORE INSERT trigger is copied to both, and the copy on
// the 's' partition has been switched off by hand.
const DDL = `
  CREATE TABLE tp_reading (id int NOT NULL, kind text NOT NULL, value text NOT NULL) PARTITION BY LIST (kind);
  CREATE TABLE tp_reading_a PARTITION OF tp_reading FOR VALUES IN ('a');
  CREATE TABLE tp_reading_s PARTITION OF tp_reading FOR VALUES IN ('s');
  ALTER TABLE tp_reading_a ADD PRIMARY KEY (id);
  ALTER TABLE tp_reading_s ADD PRIMARY KEY (id);
  CREATE FUNCTION tp_shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.value = upper(NEW.value); RETURN NEW; END $$;
  CREATE TRIGGER tp_shout BEFORE INSERT ON tp_reading FOR EACH ROW EXECUTE FUNCTION tp_shout();
  ALTER TABLE tp_reading_s DISABLE TRIGGER tp_shout;`;

async function open(backend: TestBackend): Promise<MikroORM> {
  const orm = await backend.createOrm({ entities: [Reading], extensions: [EntitySync], createSchema: false });
  await backend.executeScript(orm, DDL);
  return orm;
}

const schemaOf = (orm: MikroORM) => orm.config.get('schema') ?? 'public';

async function triggerStates(orm: MikroORM): Promise<string[]> {
  const rows = await orm.em.getConnection().execute<{ state: string }[]>(
    `SELECT c.relname || ':' || g.tgenabled::text AS state FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace ` +
    `WHERE n.nspname = ? AND g.tgname = 'tp_shout' ORDER BY 1`, [schemaOf(orm)]);
  return rows.map((row) => row.state);
}

for (const backend of testBackends()) {
  const test = suite(`triggers on partitions [${backend.name}]`);

  test("an import with triggers 'disable' writes the file's values and leaves each partition's trigger as it was", withTimeout(async () => {
    const source = await open(backend);
    const target = await open(backend);
    try {
      await source.em.getConnection().execute(`INSERT INTO "${schemaOf(source)}".tp_reading (id, kind, value) VALUES (1, 'a', 'quiet'), (2, 's', 'soft')`);
      const states = await triggerStates(target);
      assert.equal(states, ['tp_reading:O', 'tp_reading_a:O', 'tp_reading_s:D']);
      const exported = await exportGraph(source.em.fork(), [{ entity: Reading, key: 1 }, { entity: Reading, key: 2 }], { exportedAt: null });
      assert.is(exported.document!.data.Reading!.map((row) => row[2]).join(), 'QUIET,soft');
      const report = await importGraph(target.em.fork(), exported.document!, { triggers: 'disable' });
      assert.equal(report.rewritten, []);
      const again = await exportGraph(target.em.fork(), [{ entity: Reading, key: 1 }, { entity: Reading, key: 2 }], { exportedAt: null });
      assert.is(again.text, exported.text);
      assert.equal(await triggerStates(target), states);
    } finally {
      await source.close();
      await target.close();
    }
  }));

  test.run();
}
