// Replica rows equal the master's values to the byte, for every type the graph export
// round-trips: through the outbox, the relay, a transport that sends messages as JSON text,
// the ReplicaConsumer (inserts, then updates), and through dumpMaster -> loadReplica.
import 'reflect-metadata';
import { dumpMaster, EntitySync, installOutbox, installReplica, loadReplica, OutboxRelay, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { Master, Replica, type CqrsMessage, type MessageHandler, type Transport } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

// Master and replica map the same columns, in the same order: a row's text compares them all.
abstract class TypedColumns {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property({ columnType: 'bigint', nullable: true }) big?: string;
  @Property({ columnType: 'numeric(40,20)', nullable: true }) exact?: string;
  @Property({ columnType: 'numeric', nullable: true }) free?: string;
  @Property({ columnType: 'double precision', nullable: true }) approx?: number;
  @Property({ columnType: 'timestamp(6)', nullable: true }) local?: string;
  @Property({ columnType: 'timestamptz(6)', nullable: true }) instant?: string;
  @Property({ columnType: 'date', nullable: true }) day?: string;
  @Property({ columnType: 'time(6)', nullable: true }) clock?: string;
  @Property({ columnType: 'time with time zone', nullable: true }) zonedClock?: string;
  @Property({ columnType: 'uuid', nullable: true }) ref?: string;
  @Property({ columnType: 'json', nullable: true }) doc?: unknown;
  @Property({ columnType: 'jsonb', nullable: true }) docb?: unknown;
  @Property({ columnType: 'text[]', nullable: true }) words?: string[];
  @Property({ columnType: 'timestamptz(6)[]', nullable: true }) stamps?: string[];
  @Property({ columnType: 'numeric[]', nullable: true }) amounts?: string[];
  @Property({ columnType: 'bigint[]', nullable: true }) bigs?: string[];
  @Property({ columnType: 'bytea', nullable: true }) bytes?: Buffer;
  @Property({ columnType: 'boolean', nullable: true }) flag?: boolean;
  @Property({ columnType: 'text', nullable: true }) note?: string;
  @Property({ columnType: 'interval', nullable: true }) span?: string;
}

@Entity({ tableName: 'typed_master' })
@Master('typed')
class TypedMaster extends TypedColumns {}

@Entity({ tableName: 'typed_copy' })
@Replica('typed')
class TypedCopy extends TypedColumns {}

const COLUMNS = 'id, big, exact, free, approx, local, instant, day, clock, zoned_clock, ref, doc, docb, words, stamps, amounts, bigs, bytes, flag, note, span';

// Values that break a lossy path: beyond 2^53 and beyond a double's digits, numeric scale,
// microseconds, zones, quotes, backslashes, tabs, newlines and astral characters. A json column
// is written in jsonb's own layout: the message carries a json value, not its text (see the README).
const ROWS = [
  `1, 9223372036854775807, 12345678901234567890.12345678901234567890, 0.10, 0.1, '2024-02-29 23:59:59.123456', ` +
    `'2024-02-29 23:59:59.654321+05:30', '2024-02-29', '23:59:59.999999', '00:00:00.000001+14:59', 'f47ac10b-58cc-4372-a567-0e02b2c3d479', ` +
    `'{"a": 1, "b": [1, 2.5, "x"]}', '{"k": "\u00e9\ud83d\ude80", "n": [1, 2.5, null], "q": "say \\"hi\\""}', ` +
    `ARRAY['tab\there', 'quote"s', 'back\\slash', '', NULL, 'comma,{brace}'], ` +
    `ARRAY['2024-01-01 00:00:00.000001+00', '1999-12-31 23:59:59.999999-00:30']::timestamptz[], ` +
    `ARRAY[0.10, 12345678901234567890.123456789, NULL]::numeric[], ARRAY[9223372036854775807, -9007199254740993]::bigint[], ` +
    `'\\x00ff5c22'::bytea, true, E'line1\\nline2\\ttabbed \\\\ back \u00e9 \u96ea \ud83d\ude80 "q" ''s''', '1 year 2 mons 3 days 04:05:06.789'`,
  `2, -9007199254740993, -0.00000000000000000001, 'NaN', '1.5e-07', 'infinity', '-infinity', '2000-01-01', '00:00', '24:00:00-15:59', NULL, ` +
    `'[]', '"null"', '{}', '{}', '{}', '{}', '\\x', false, '', '-1 days +00:00:00.000001'`,
  `3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL`,
];
// An update of every value, to the byte as well.
const UPDATES = `big = big - 1, exact = exact / 3, free = free * 1.000, approx = approx / 3, local = local + interval '0.000001 s', ` +
  `instant = instant - interval '0.000123 s', stamps = stamps || '2030-05-05 05:05:05.050505+00'::timestamptz, amounts = amounts || 0.000000000000000000001, ` +
  `bigs = bigs || '-9223372036854775808'::bigint, bytes = bytes || '\\x0a'::bytea, note = note || E' \\\\ "', docb = docb || '{"z": 1.25}'`;

/** The memory transport, sending every message as JSON text, as a broker would. */
class JsonTextTransport implements Transport {
  constructor(readonly inner = new MemoryTransport()) {}
  publish(messages: CqrsMessage[], options?: { queue?: string }) {
    return this.inner.publish(messages.map((message) => JSON.parse(JSON.stringify(message)) as CqrsMessage), options);
  }
  subscribe(queue: string, cqrsIds: string[], handler: MessageHandler) {
    return this.inner.subscribe(queue, cqrsIds, (message) => handler(JSON.parse(JSON.stringify(message)) as CqrsMessage));
  }
  close() {
    return this.inner.close();
  }
}

const schemaOf = (orm: MikroORM) => `"${orm.config.get('schema') ?? 'public'}"`;
const rowTexts = async (orm: MikroORM, table: string, columns = COLUMNS) =>
  (await orm.em.getConnection().execute<{ t: string }[]>(`select row(${columns})::text as t from ${schemaOf(orm)}.${table} order by id`)).map((row) => row.t);

for (const backend of testBackends()) {
  const test = suite(`replica values equal the master's to the byte [${backend.name}]`);

  test('through the outbox, the relay, JSON text and the consumer: inserts, then updates', async () => {
    const master = await backend.createOrm({ entities: [TypedMaster], extensions: [EntitySync] });
    const replica = await backend.createOrm({ entities: [TypedCopy], extensions: [EntitySync] });
    const transport = new JsonTextTransport();
    const consumer = new ReplicaConsumer(replica.em.fork(), transport, { queue: 'typed', onFallback: () => undefined });
    try {
      await installOutbox(master.em.fork());
      await installReplica(replica.em.fork());
      await consumer.start();
      const connection = master.em.getConnection();
      await connection.execute(`insert into ${schemaOf(master)}.typed_master (${COLUMNS}) values ${ROWS.map((row) => `(${row})`).join(', ')}`);
      await new OutboxRelay(master.em.fork(), transport).relayPending();
      await transport.inner.drain();
      assert.equal(await rowTexts(replica, 'typed_copy'), await rowTexts(master, 'typed_master'), 'inserted rows');
      assert.ok((await rowTexts(master, 'typed_master'))[0]!.includes('12345678901234567890.12345678901234567890'));

      await connection.execute(`update ${schemaOf(master)}.typed_master set ${UPDATES}`);
      await new OutboxRelay(master.em.fork(), transport).relayPending();
      await transport.inner.drain();
      assert.equal(await rowTexts(replica, 'typed_copy'), await rowTexts(master, 'typed_master'), 'updated rows');
      assert.is(consumer.stats().applied, 6);
      assert.is(consumer.stats().failed, 0);
    } finally {
      await consumer.stop();
      await transport.close();
      await master.close();
      await replica.close();
    }
  });

  test('through dumpMaster -> loadReplica', async () => {
    const master = await backend.createOrm({ entities: [TypedMaster], extensions: [EntitySync] });
    const replica = await backend.createOrm({ entities: [TypedCopy], extensions: [EntitySync] });
    try {
      const connection = master.em.getConnection();
      await connection.execute(`insert into ${schemaOf(master)}.typed_master (${COLUMNS}) values ${ROWS.map((row) => `(${row})`).join(', ')}`);
      const lines: string[] = [];
      for await (const line of dumpMaster(master.em.fork(), { cqrsId: 'typed' })) lines.push(line);
      assert.equal(await loadReplica(replica.em.fork(), (async function* () { yield* lines; })()), { applied: 3, skipped: 0 });
      assert.equal(await rowTexts(replica, 'typed_copy'), await rowTexts(master, 'typed_master'));
    } finally {
      await master.close();
      await replica.close();
    }
  });

  test.run();
}
