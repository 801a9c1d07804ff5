import 'reflect-metadata';
import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { Entity, Enum, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

enum Mood { Happy = 'happy', Sad = 'sad', Odd = "it's \"odd\"" }

@Entity()
class Vault {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property() name!: string;
}

@Entity()
class Specimen {
  @PrimaryKey({ type: 'bigint' }) id!: string;
  @ManyToOne(() => Vault) vault!: Vault;
  @Property({ type: 'bigint', nullable: true }) big?: string | null;
  @Property({ type: 'decimal', precision: 40, scale: 20, nullable: true }) exact?: string | null;
  @Property({ type: 'double', nullable: true }) approx?: number | null;
  @Property({ columnType: 'timestamp(6)', nullable: true }) localTime?: Date | null;
  @Property({ columnType: 'timestamptz(6)', nullable: true }) instant?: Date | null;
  @Property({ type: 'date', nullable: true }) day?: string | null;
  @Property({ type: 'uuid', nullable: true }) ref?: string | null;
  @Property({ type: 'json', nullable: true }) doc?: unknown;
  @Property({ type: 'jsonb', nullable: true }) docb?: unknown;
  @Property({ columnType: 'text[]', nullable: true }) words?: string[] | null;
  @Property({ columnType: 'int[]', nullable: true }) numbers?: number[] | null;
  @Property({ type: 'blob', nullable: true }) bytes?: Buffer | null;
  @Enum({ items: () => Mood, nativeEnumName: 'mood', nullable: true }) mood?: Mood | null;
  @Property({ type: 'text', nullable: true }) note?: string | null;
  @Property({ nullable: true }) flag?: boolean | null;
  @Property({ columnType: 'interval', nullable: true }) span?: string | null;
}

const VAULT = '0b6d1c9e-3f2a-4c8b-9d7e-5a1f2b3c4d5e';

// Values chosen to break lossy paths: beyond 2^53, many decimals, microseconds, quotes, backslashes, tabs, newlines, unicode.
const TRICKY = [
  `'9223372036854775807', '12345678901234567890.12345678901234567890', 0.1, ` +
    `'2024-02-29 23:59:59.123456', '2024-02-29 23:59:59.654321+05:30', '0001-01-01', 'f47ac10b-58cc-4372-a567-0e02b2c3d479', ` +
    `'{"b": 1, "a": [1, 2.50, "x"]}', '{"b": 1, "a": [1, 2.50, "x"], "q": "say \\"hi\\""}', ` +
    `ARRAY['tab\there', 'quote"s', 'back\\\\slash', '', NULL, 'comma,{brace}'], ARRAY[1, -2, 3], '\\x00ff10'::bytea, 'it''s "odd"', ` +
    `E'line1\\nline2\\ttabbed \\\\ back é 雪 🚀', true, '1 year 2 mons 3 days 04:05:06.789'`,
  `'2', NULL, '-0.00000000000000000001', 'NaN', NULL, 'infinity', NULL, NULL, 'null', '[]', '{}', '{}', '', 'happy', '', false, NULL`,
];

async function seed(orm: MikroORM): Promise<void> {
  const schema = orm.config.get('schema') ?? 'public';
  const connection = orm.em.getConnection();
  await connection.execute(`insert into "${schema}".vault (id, name) values ('${VAULT}', 'main')`);
  const columns = 'id, vault_id, big, exact, approx, local_time, instant, day, ref, doc, docb, words, numbers, bytes, mood, note, flag, span';
  await connection.execute(`insert into "${schema}".specimen (${columns}) values ('1', '${VAULT}', ${TRICKY[0]}), (${TRICKY[1]!.replace("'2',", `'2', '${VAULT}',`)})`);
}

async function texts(orm: MikroORM): Promise<string[]> {
  const schema = orm.config.get('schema') ?? 'public';
  const rows = await orm.em.getConnection().execute<{ t: string }[]>(`select s::text as t from "${schema}".specimen s order by id`);
  return rows.map((row) => row.t);
}

for (const backend of testBackends()) {
  const test = suite(`value types survive the round trip exactly [${backend.name}]`);

  test('bigint, numeric, timestamps, date, uuid, json, jsonb, arrays, bytea, enum, interval, nulls', async () => {
    const source = await backend.createOrm({ entities: [Vault, Specimen], extensions: [EntitySync] });
    const target = await backend.createOrm({ entities: [Vault, Specimen], extensions: [EntitySync] });
    try {
      await seed(source);
      for (const format of ['json', 'ndjson'] as const) {
        const exported = await exportGraph(source.em.fork(), { entity: Vault, key: VAULT }, { exportedAt: null, format });
        const specimen = exported.header.entities.find((e) => e.name === 'Specimen')!;
        assert.equal(specimen.columns.find((c) => c.name === 'mood')!.type, 'mood');
        assert.equal(specimen.columns.find((c) => c.name === 'instant')!.type, 'timestamp(6) with time zone');
        const fresh = format === 'json' ? target : await backend.createOrm({ entities: [Vault, Specimen], extensions: [EntitySync] });
        try {
          await importGraph(fresh.em.fork(), format === 'json' ? exported.document! : await import('node:stream').then(({ Readable }) => Readable.from([exported.text!])));
          assert.equal(await texts(fresh), await texts(source), `${format}: every column's text is the same`);
          const again = await exportGraph(fresh.em.fork(), { entity: Vault, key: VAULT }, { exportedAt: null, format });
          assert.is(again.text, exported.text, `${format}: the same bytes`);
        } finally {
          if (fresh !== target) await fresh.close();
        }
      }
      const row = (await exportGraph(source.em.fork(), { entity: Vault, key: VAULT })).document!.data.Specimen![0]!;
      assert.ok(row.includes('9223372036854775807'));
      assert.ok(row.includes('12345678901234567890.12345678901234567890'));
      assert.ok(row.includes('2024-02-29 18:29:59.654321+00'), 'timestamptz is written in UTC');
      assert.ok(row.includes('\\x00ff10'));
    } finally {
      await source.close();
      await target.close();
    }
  });

  test.run();
}
