// A document's row lines are, byte for byte, PostgreSQL's `array_to_json` of each row's column
// texts in key order: the spelling every earlier document has. Checked for a part of a table
// (the rows a walk reached) and for a whole one, on text that holds every character COPY and
// JSON escape, and on types whose text differs from what COPY would print on its own.
import 'reflect-metadata';
import { EntitySync, exportGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from './helpers/sql.js';

@Entity({ tableName: 'shelf' })
class Shelf {
  @PrimaryKey({ autoincrement: false }) id!: number;
}

@Entity({ tableName: 'label' })
class Label {
  @PrimaryKey({ type: 'text' }) code!: string;
  @ManyToOne(() => Shelf) shelf!: Shelf;
  @Property({ type: 'text', nullable: true }) body?: string;
  @Property({ columnType: 'boolean', nullable: true }) flag?: boolean;
  @Property({ columnType: 'char(4)', nullable: true }) fixed?: string;
  @Property({ columnType: 'inet', nullable: true }) host?: string;
  @Property({ columnType: 'cidr', nullable: true }) net?: string;
  @Property({ columnType: 'boolean[]', nullable: true }) flags?: boolean[];
  @Property({ columnType: 'jsonb', nullable: true }) doc?: unknown;
  @Property({ columnType: 'name', nullable: true }) tag?: string;
  @Property({ columnType: 'numeric(12,3)', nullable: true }) amount?: string;
  @Property({ columnType: 'double precision', nullable: true }) ratio?: number;
  @Property({ columnType: 'timestamptz', nullable: true }) at?: Date;
  @Property({ columnType: 'interval', nullable: true }) span?: string;
  @Property({ columnType: 'bytea', nullable: true }) bytes?: Buffer;
  @Property({ columnType: 'text[]', nullable: true }) words?: string[];
  @Property({ columnType: 'char(3)[]', nullable: true }) codes?: string[];
  @Property({ columnType: 'uuid', nullable: true }) ref?: string;
}

// Every ASCII control character, each on its own and next to a backslash; quotes; the text \N; non-ASCII.
const controls = Array.from({ length: 31 }, (_, i) => `chr(${i + 1})`);
const BODIES = [
  ...controls.map((c) => `'a' || ${c} || 'b'`),
  ...controls.map((c) => `E'\\\\' || ${c} || 'v'`),
  `E'\\\\N'`, `'\\N'`, `'N'`, `''`, `'"'`, `'"\\N"'`, `E'\\\\v\\\\\\\\v'`, `E'tab\\there\\nline\\r\\n'`, `'é ✓ 🚀 ' || chr(127) || chr(8232)`,
  `'{"a": "b\\\\c"}'`, 'NULL',
];

for (const backend of testBackends()) {
  const test = suite(`documents keep the array_to_json spelling of every row [${backend.name}]`);
  let orm: MikroORM;

  test.before(async () => {
    orm = await backend.createOrm({ entities: [Shelf, Label], extensions: [EntitySync] });
    await sql(orm, `insert into $s.shelf values (1), (2)`);
    const rows = BODIES.map((body, i) => `(${[`'k' || ${i} || ${i % 3 ? `chr(${200 + i})` : `'Z'`}`, 1 + (i % 2), body,
      i % 3 ? (i % 2 ? 'true' : 'false') : 'NULL', i % 4 ? `'ab'` : 'NULL', i % 2 ? `'10.0.0.${i}'` : `'::1'`, `'10.${i}.0.0/16'`,
      i % 2 ? `'{t,NULL,f}'` : 'NULL', i % 2 ? `to_jsonb((${body === 'NULL' ? `'x'` : body})::text)` : 'NULL', `'n${i}'`].join(', ')})`);
    await sql(orm, `insert into $s.label (code, shelf_id, body, flag, fixed, host, net, flags, doc, tag) values ${rows.join(', ')}`);
    await sql(orm, `update $s.label set amount = length(code) * 1.5, ratio = 1.0 / (3 + length(code)), at = timestamptz '2024-02-29 23:59:59.123456+05:30',
      span = interval '1 day -2 hours', bytes = convert_to(coalesce(body, ''), 'UTF8'), words = array[body, code, null], codes = array['a', null, 'bc'],
      ref = md5(code)::uuid where code like '%1%'`);
  });
  test.after(async () => {
    await orm.close();
  });

  // The lines of one entity in an NDJSON document, and the lines the database spells for the same rows.
  const linesOf = (text: string, entity: string) => {
    const lines = text.split('\n');
    const start = lines.indexOf(JSON.stringify({ entity })) + 1;
    const end = lines.findIndex((line, i) => i >= start && line.startsWith('{'));
    return lines.slice(start, end);
  };
  const expected = async (shelves: number[]) => {
    const columns = ['code', 'shelf_id', 'body', 'flag', 'fixed', 'host', 'net', 'flags', 'doc', 'tag', 'amount', 'ratio', 'at', 'span', 'bytes', 'words', 'codes', 'ref'];
    const rows = await sql<{ line: string }>(orm, `select array_to_json(array[${columns.map((c) => `${c}::text`).join(', ')}])::text as line ` +
      `from $s.label where shelf_id in (${shelves.join(', ')}) order by code collate "C"`);
    return rows.map((row) => row.line);
  };

  test('a shelf: the rows the walk reached, as array_to_json spells them', async () => {
    const { text } = await exportGraph(orm.em.fork(), { entity: Shelf, key: 1 }, { format: 'ndjson', exportedAt: null });
    const lines = linesOf(text!, 'Label');
    assert.ok(lines.length > BODIES.length / 3, `${lines.length} rows`);
    assert.equal(lines, await expected([1]));
  });

  test('every shelf: whole tables, as array_to_json spells them, in JSON as in NDJSON', async () => {
    const roots = [{ entity: Shelf, key: 1 }, { entity: Shelf, key: 2 }];
    const { text } = await exportGraph(orm.em.fork(), roots, { format: 'ndjson', exportedAt: null });
    const lines = linesOf(text!, 'Label');
    assert.is(lines.length, BODIES.length);
    assert.equal(lines, await expected([1, 2]));
    const json = await exportGraph(orm.em.fork(), roots, { format: 'json', exportedAt: null });
    assert.ok(json.text!.includes(lines.join(',\n')), 'the JSON document holds the same lines');
  });

  test.run();
}
