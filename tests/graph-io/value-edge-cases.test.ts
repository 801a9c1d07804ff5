import 'reflect-metadata';
import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, Enum, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from './helpers/sql.js';

enum Shade { Light = 'light', Dark = 'dark', Mixed = 'half "and" half' }

@Entity({ tableName: 'drawer' })
class Drawer {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'text' }) name!: string;
}

@Entity({ tableName: 'oddity' })
class Oddity {
  @PrimaryKey({ type: 'bigint' }) id!: string;
  @ManyToOne(() => Drawer) drawer!: Drawer;
  @Property({ columnType: 'smallint', nullable: true }) small?: number;
  @Property({ columnType: 'real', nullable: true }) single?: number;
  @Property({ columnType: 'double precision', nullable: true }) double?: number;
  @Property({ columnType: 'numeric', nullable: true }) unbounded?: string;
  @Property({ columnType: 'time(6)', nullable: true }) clock?: string;
  @Property({ columnType: 'time with time zone', nullable: true }) zonedClock?: string;
  @Property({ columnType: 'timestamp(6)', nullable: true }) local?: string;
  @Property({ columnType: 'timestamptz(6)', nullable: true }) instant?: string;
  @Property({ columnType: 'date', nullable: true }) day?: string;
  @Property({ columnType: 'interval', nullable: true }) span?: string;
  @Property({ columnType: 'char(5)', nullable: true }) fixed?: string;
  @Property({ columnType: 'varchar(20)', nullable: true }) varying?: string;
  @Property({ columnType: 'text', nullable: true }) free?: string;
  @Property({ columnType: 'text[]', nullable: true }) words?: string[];
  @Property({ columnType: 'int[]', nullable: true }) grid?: number[];
  @Property({ columnType: 'int[]', nullable: true }) shifted?: number[];
  @Property({ columnType: 'json', nullable: true }) raw?: unknown;
  @Property({ columnType: 'jsonb', nullable: true }) parsed?: unknown;
  @Property({ columnType: 'jsonb[]', nullable: true }) documents?: unknown;
  @Property({ columnType: 'bytea', nullable: true }) bytes?: Buffer;
  @Property({ columnType: 'bit varying(16)', nullable: true }) bits?: string;
  @Property({ columnType: 'inet', nullable: true }) address?: string;
  @Property({ columnType: 'point', nullable: true }) spot?: string;
  @Property({ columnType: 'int4range', nullable: true }) range?: string;
  @Property({ columnType: 'tsvector', nullable: true }) search?: string;
  @Property({ columnType: 'uuid[]', nullable: true }) links?: string[];
  @Enum({ items: () => Shade, nativeEnumName: 'shade', nullable: true }) shade?: Shade;
  @Enum({ items: () => Shade, nativeEnumName: 'shade', array: true, nullable: true }) shades?: Shade[];
}

const DRAWER = '6f1c2d3e-4a5b-4c6d-8e7f-901234567890';

// Column -> the SQL literal of each of three rows: extremes, special values, and empty versus NULL.
const VALUES: Record<string, [string, string, string]> = {
  small: ['-32768', '0', 'NULL'],
  single: [`'3.4028235e+38'`, `'NaN'`, `'1e-45'`],
  double: [`'-0'`, `'-Infinity'`, `'4.9e-324'`],
  unbounded: [`'0.000000000000000000000000000000000000000000000000000000000000000000000000001'`, `'NaN'`, `'-1e400'`],
  clock: [`'23:59:59.999999'`, `'00:00'`, 'NULL'],
  zoned_clock: [`'00:00:00+14:59'`, `'24:00:00-15:59'`, 'NULL'],
  local: [`'4713-01-01 00:00:00 BC'`, `'infinity'`, `'2000-01-01 00:00:00.000001'`],
  instant: [`'294276-12-31 23:59:59.999999+00'`, `'-infinity'`, `'1999-12-31 23:59:59.999999-00:30'`],
  day: [`'5874897-12-31'`, `'-infinity'`, `'0001-01-01 BC'`],
  span: [`'-178000000 years -1 microseconds'`, `'0'`, `'1 day -1 hour'`],
  fixed: [`'ab'`, `''`, 'NULL'],
  varying: [`'trail  '`, `''`, 'NULL'],
  free: [`E'cr\\r\\nlf\\ttab \\\\ back'`, `''`, 'NULL'],
  words: [`ARRAY['NULL', NULL, 'null', ' sp ', '{x}', 'a"b', 'c\\d', '']`, `'{}'`, `ARRAY[NULL]::text[]`],
  grid: [`'{{1,2},{3,4}}'`, `'{}'`, `ARRAY[NULL]::int[]`],
  shifted: [`'[0:1]={7,8}'`, 'NULL', 'NULL'],
  raw: [`'{"a":"\\u0000", "b" : [ ], "a" : 2}'`, `'null'`, 'NULL'],
  parsed: [`'{"k": "\\u00e9\\ud83d\\ude80", "n": 1.50}'`, `'"null"'`, 'NULL'],
  documents: [`ARRAY['{"x":1}'::jsonb, 'null'::jsonb]`, `'{}'`, 'NULL'],
  bytes: [`'\\x'`, 'NULL', `'\\x00ff5c22'`],
  bits: [`B'1010'`, `B''`, 'NULL'],
  address: [`'::ffff:10.0.0.1/96'`, 'NULL', 'NULL'],
  spot: [`'(1.5,-2e-300)'`, 'NULL', 'NULL'],
  range: [`'[1,5)'`, `'empty'`, 'NULL'],
  search: [`'a:1 fat cat''s'`, `''`, 'NULL'],
  links: [`ARRAY['${DRAWER}'::uuid]`, `'{}'`, `ARRAY[NULL]::uuid[]`],
  shade: [`'half "and" half'`, 'NULL', `'dark'`],
  shades: [`ARRAY['light', 'half "and" half']::$s.shade[]`, `'{}'`, 'NULL'],
};

async function seed(orm: MikroORM): Promise<void> {
  await sql(orm, `insert into $s.drawer values ('${DRAWER}', 'top')`);
  const columns = Object.keys(VALUES);
  for (let row = 0; row < 3; row++) {
    await sql(orm, `insert into $s.oddity (id, drawer_id, ${columns.join(', ')}) values (${row + 1}, '${DRAWER}', ${columns.map((c) => VALUES[c]![row]).join(', ')})`);
  }
}

/** Every row's text, and each column's text on its own: what the database holds, exactly. */
async function texts(orm: MikroORM, where = ''): Promise<string[]> {
  const rows = await sql<{ t: string }>(orm, `select array_to_json(array[${Object.keys(VALUES).map((c) => `${c}::text`).join(', ')}])::text as t ` +
    `from $s.oddity ${where} order by id`);
  return rows.map((row) => row.t);
}

for (const backend of testBackends()) {
  const test = suite(`unusual values and empty-versus-NULL survive export, import and remap [${backend.name}]`);
  let source: MikroORM;
  const open = () => backend.createOrm({ entities: [Drawer, Oddity], extensions: [EntitySync] });

  test.before(async () => {
    source = await open();
    await seed(source);
  });
  test.after(async () => {
    await source.close();
  });

  test('JSON and NDJSON: the same text in every column, and the same bytes exported again', async () => {
    for (const format of ['json', 'ndjson'] as const) {
      const target = await open();
      try {
        const exported = await exportGraph(source.em.fork(), { entity: Drawer, key: DRAWER }, { exportedAt: null, format });
        await importGraph(target.em.fork(), format === 'json' ? exported.document! : Readable.from([exported.text!]));
        assert.equal(await texts(target), await texts(source), format);
        const again = await exportGraph(target.em.fork(), { entity: Drawer, key: DRAWER }, { exportedAt: null, format });
        assert.is(again.text, exported.text, format);
      } finally {
        await target.close();
      }
    }
  });

  test('empty and NULL stay apart in the file', async () => {
    const { document } = await exportGraph(source.em.fork(), { entity: Drawer, key: DRAWER });
    const columns = document!.entities.find((e) => e.name === 'Oddity')!.columns.map((c) => c.name);
    const [, second, third] = document!.data.Oddity!;
    const at = (row: (string | null)[], column: string) => row[columns.indexOf(column)];
    assert.equal(['fixed', 'varying', 'free', 'search'].map((c) => at(second!, c)), ['', '', '', '']);
    assert.equal(['fixed', 'varying', 'free', 'search'].map((c) => at(third!, c)), [null, null, null, null]);
    assert.is(at(second!, 'raw'), 'null', 'JSON null is a value');
    assert.is(at(third!, 'raw'), null, 'SQL NULL is not');
    assert.is(at(second!, 'words'), '{}');
    assert.is(at(third!, 'words'), '{NULL}');
  });

  test("'remap' gives the drawer a new uuid and the rows new bigint keys, and changes no other value", async () => {
    const exported = await exportGraph(source.em.fork(), { entity: Drawer, key: DRAWER }, { exportedAt: null });
    const report = await importGraph(source.em.fork(), exported.document!, { onConflict: 'remap' });
    const [[oldDrawer, newDrawer]] = report.idMap.Drawer!;
    assert.equal(oldDrawer, [DRAWER]);
    assert.match(newDrawer![0]!, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.is.not(newDrawer![0], DRAWER);
    const newIds = report.idMap.Oddity!.map(([, now]) => now[0]);
    assert.equal(report.idMap.Oddity!.map(([old]) => old[0]), ['1', '2', '3']);
    assert.is(new Set(newIds).size, 3);
    assert.ok(newIds.every((id) => BigInt(id!) > 3n), newIds.join(', '));
    assert.equal(await texts(source, `where drawer_id = '${newDrawer![0]}'`), await texts(source, `where drawer_id = '${DRAWER}'`));
  });

  test.run();
}
