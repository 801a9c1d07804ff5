// WAL capture (`installOutbox(em, { capture: 'wal' })`, `cqrs install --capture wal`): the relay
// streams the master's changes from a logical replication slot. On a real PostgreSQL started with
// wal_level = logical: the messages are those trigger capture publishes, to the byte; the slot's
// lag and an abandoned slot show in `cqrs status`; one relay reads a slot at a time; a switch
// back to triggers loses nothing. The faults are in wal-capture-faults.test.ts.
import 'reflect-metadata';
import { captureStatus, EntitySync, installOutbox, OutboxRelay, setCorrelationId } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { Master, Replica, type CqrsMessage } from '@entity-sync/core';
import { createTestOrm, findPostgresBinDir, getBackend } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { killAfter } from '../support/child-deadline.js';
import { until } from '../support/until.js';
import { Author, libraryEntities } from '../../examples/library/src/index.js';

@Entity({ tableName: 'wal_typed' })
@Master('wal-typed', { exclude: ['span'] })
class WalTyped {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property({ columnType: 'bigint', nullable: true }) big?: string;
  @Property({ columnType: 'numeric(40,20)', nullable: true }) exact?: string;
  @Property({ columnType: 'double precision', nullable: true }) approx?: number;
  @Property({ columnType: 'timestamptz(6)', nullable: true }) instant?: string;
  @Property({ columnType: 'timestamp(6)', nullable: true }) local?: string;
  @Property({ columnType: 'jsonb', nullable: true }) docb?: unknown;
  @Property({ columnType: 'json', nullable: true }) doc?: unknown;
  @Property({ columnType: 'text[]', nullable: true }) words?: string[];
  @Property({ columnType: 'numeric[]', nullable: true }) amounts?: string[];
  @Property({ columnType: 'bytea', nullable: true }) bytes?: Buffer;
  @Property({ columnType: 'boolean', nullable: true }) flag?: boolean;
  @Property({ columnType: 'text', nullable: true }) note?: string;
  @Property({ columnType: 'interval', nullable: true }) span?: string;
}

// A partitioned master (rows moving between partitions), and one that publishes nothing but still counts revisions.
@Entity({ tableName: 'wal_event' })
@Master('wal-event', { serializer: (event: object) => ({ ...(event as { id: number; kind: string }), shouted: (event as { kind: string }).kind.toUpperCase() }) })
class WalEvent {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() kind!: string;
}

@Entity({ tableName: 'wal_silent' })
@Master('wal-silent', { produce: false })
class WalSilent {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() note!: string;
}

// A table whose columns change while the slot still holds its changes, with a value stored out of line.
@Entity({ tableName: 'wal_note' })
@Master('wal-note')
class WalNote {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() title!: string;
  @Property({ columnType: 'text' }) body!: string;
  @Property() flag!: boolean;
  @Property({ columnType: 'double precision' }) approx!: number;
}

const PARTITIONED = ['drop table wal_event', 'create table wal_event (id int primary key, kind text not null) partition by range (id)',
  'create table wal_event_low partition of wal_event for values from (0) to (100)', 'create table wal_event_high partition of wal_event for values from (100) to (10000)'];

// a generated column (pgoutput does not send it) and a name that needs quoting everywhere
const EXTRA_COLUMNS = `alter table wal_typed add column doubled bigint generated always as (id * 2 + coalesce(big, 0) % 7) stored, ` +
  `add column "odd ""name"", (x)" text default 'd,"e"\\f'`;

const ROW_1 = `1, 9223372036854775807, 12345678901234567890.12345678901234567890, 0.1, '2024-02-29 23:59:59.654321+05:30', ` +
  `'2024-02-29 23:59:59.123456', '{"k": "\u00e9\ud83d\ude80", "n": [1, 2.5, null], "q": "say \\"hi\\""}', '{"b": [1,  2.5], "a": 1}', ` +
  `ARRAY['tab\there', 'quote"s', 'back\\slash', '', NULL, 'comma,{brace}', '(paren)'], ARRAY[0.10, 12345678901234567890.123456789, NULL]::numeric[], ` +
  `'\\x00ff5c22'::bytea, true, E'line1\\nline2 \\\\ "q" ''s'' (a,b)', '1 year 2 mons 3 days 04:05:06.789'`;
const ROW_2 = `2, -9007199254740993, -0.00000000000000000001, 'NaN', 'infinity', '-infinity', '"null"', '[]', '{}', '{}', '\\x', false, '', '-1 days +00:00:00.000001'`;
const ROW_3 = '3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL';
const COLUMNS = 'id, big, exact, approx, instant, local, docb, doc, words, amounts, bytes, flag, note, span';

// Transactions of every shape a row's changes take: several changes of one row, an insert then a
// delete, a rollback, a savepoint rolled back, a change of a key, a correlation id.
async function workload(orm: MikroORM): Promise<void> {
  const sql = (text: string) => orm.em.getConnection().execute(text);
  await sql(`insert into wal_typed (${COLUMNS}) values (${ROW_1}), (${ROW_2}), (${ROW_3})`);
  await orm.em.fork().transactional(async (em) => {
    await setCorrelationId(em, 'request-42');
    await em.getConnection().execute(`update wal_typed set big = big - 1, exact = exact / 3, approx = approx / 3, instant = instant - interval '0.000123 s', ` +
      `docb = docb || '{"z": 1.25}', words = words || ARRAY['more'], note = note || E' \\\\ "', "odd ""name"", (x)" = 'changed' where id in (1, 2)`,
    [], 'all', em.getTransactionContext());
  });
  await sql(`begin; insert into wal_typed (id, note) values (10, 'first'); update wal_typed set note = 'second' where id = 10; ` +
    `update wal_typed set note = 'third', flag = true where id = 10; delete from wal_typed where id = 2; commit`);
  await sql(`begin; insert into wal_typed (id) values (11); delete from wal_typed where id = 11; commit`);
  await sql(`begin; insert into wal_typed (id) values (12); rollback`);
  await sql(`begin; insert into wal_typed (id) values (13); savepoint s; insert into wal_typed (id) values (14); rollback to savepoint s; ` +
    `update wal_typed set note = 'kept' where id = 13; commit`);
  await sql(`begin; delete from wal_typed where id = 3; insert into wal_typed (id, note) values (3, 'again'); commit`);
  await sql(`update wal_typed set id = 30 where id = 13`);
  await sql(`insert into wal_event values (1, 'low'), (150, 'high'); insert into wal_silent values (1, 'quiet')`);
  await sql(`begin; update wal_event set id = 101, kind = 'moved' where id = 1; update wal_silent set note = 'still quiet'; commit`);
  await sql(`delete from wal_event where id = 150`);
}

// What a message carries, but the time it was captured (the trigger's clock, the WAL's commit time).
const content = ({ createdAt: _createdAt, expiresAt: _expiresAt, ...rest }: CqrsMessage) => rest;

// Commits one author per name, each in its own flush.
async function writeAuthors(orm: MikroORM, ...names: string[]): Promise<void> {
  for (const name of names) {
    const em = orm.em.fork();
    em.create(Author, { name, email: `${name}@example.org` });
    await em.flush();
  }
}

async function relayed(orm: MikroORM, batchSize = 1000): Promise<CqrsMessage[]> {
  const published: CqrsMessage[] = [];
  await new OutboxRelay(orm.em.fork(), new MemoryTransport(), { batchSize, onPublished: (messages) => void published.push(...messages) }).relayPending();
  return published;
}

const root = fileURLToPath(new URL('../..', import.meta.url));
// spawned processes compile the repository's TypeScript files only (under the test runner import.meta.url is file:////...)
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');

function run(script: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', TS_REGISTER, script, ...args], { cwd: root, env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json'), ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  killAfter(child, 60_000, `${script} ${args.join(' ')}`, () => ({ stdout, stderr }), (error) => console.error(error.message));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

const cli = (args: string[], env: Record<string, string>) =>
  run(join(root, 'packages/cli/bin/entity-sync.js'), ['--config', join(root, 'tests/cqrs/fixtures/master.config.ts'), ...args], env);

const hasPostgres = process.env.CI === 'true' || !!findPostgresBinDir();

const unit = suite('WAL capture where logical replication is not available');

unit('PGlite: install with WAL capture refuses with CQRS_WAL_UNAVAILABLE, saying what to set, and changes nothing', async () => {
  const orm = await createTestOrm({ backend: 'pglite', entities: libraryEntities, extensions: [EntitySync] });
  try {
    const error = await installOutbox(orm.em.fork(), { capture: 'wal' }).then(() => undefined, (caught: unknown) => caught as { code?: string; message: string });
    assert.is(error?.code, 'CQRS_WAL_UNAVAILABLE');
    assert.match(error!.message, 'wal_level = logical');
    const tables = await orm.em.getConnection().execute(`select to_regclass('entity_sync_outbox') is not null as present`);
    assert.is(tables[0].present, false, 'the refused install left tables behind');
  } finally {
    await orm.close();
  }
});

unit.run();

if (hasPostgres) {
  const test = suite('WAL capture on PostgreSQL with wal_level = logical');

  test('publishes the messages trigger capture publishes: same ids, revisions, keys, states, previous rows, correlation, order', async () => {
    const backend = getBackend('postgres');
    const entities = [WalTyped, WalEvent, WalSilent];
    const byTrigger = await backend.createOrm({ entities, extensions: [EntitySync] });
    const byWal = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      for (const orm of [byTrigger, byWal]) {
        for (const statement of [EXTRA_COLUMNS, ...PARTITIONED]) await orm.em.getConnection().execute(statement);
      }
      assert.equal((await installOutbox(byTrigger.em.fork())).sort(), ['wal-event', 'wal-silent', 'wal-typed']);
      assert.equal((await installOutbox(byWal.em.fork(), { capture: 'wal' })).sort(), ['wal-event', 'wal-silent', 'wal-typed']);
      const triggers = await byWal.em.getConnection().execute(`select count(*)::int as n from pg_trigger where tgname = 'entity_sync_capture'`);
      assert.is(triggers[0].n, 0, 'WAL capture left the capture trigger in place');
      await workload(byTrigger);
      await workload(byWal);
      const byTriggerMessages = await relayed(byTrigger);
      // small batches: transactions cut across batches keep their order and revisions
      const byWalMessages = await relayed(byWal, 3);
      const [expected, actual] = [byTriggerMessages.map(content), byWalMessages.map(content)];
      // the time of capture: the trigger's clock at the change, the WAL's commit time; both now
      for (const { createdAt } of [...byTriggerMessages, ...byWalMessages]) assert.ok(Math.abs(Date.parse(createdAt) - Date.now()) < 300_000, createdAt);
      assert.ok(expected.length >= 10, `${expected.length} messages`);
      assert.ok(expected.some((message) => message.cqrsId === 'wal-event' && message.state?.shouted === 'MOVED'), 'the serializer did not run');
      assert.not.ok(expected.some((message) => message.cqrsId === 'wal-silent'), 'produce: false published');
      assert.equal(actual, expected);
      assert.equal(await relayed(byWal), [], 'a second relay run published again');
      const revisions = async (orm: MikroORM) => orm.em.getConnection().execute(`select cqrs_id, key::text, revision::text from entity_sync_revision order by 1, 2`);
      assert.equal(await revisions(byWal), await revisions(byTrigger), 'the revision table (what the repair tools read) differs');
    } finally {
      await byTrigger.close();
      await byWal.close();
    }
  });

  test('a change the slot still holds when columns are added or dropped goes out with the columns it had, and a value stored out of line that an update left alone goes out in full', async () => {
    const backend = getBackend('postgres');
    const byTrigger = await backend.createOrm({ entities: [WalNote], extensions: [EntitySync] });
    const byWal = await backend.createOrm({ entities: [WalNote], extensions: [EntitySync] });
    try {
      await installOutbox(byTrigger.em.fork());
      await installOutbox(byWal.em.fork(), { capture: 'wal' });
      // more than a page holds, not compressed: stored out of line, and an update of another column sends it as "unchanged"
      const body = `(select string_agg(md5(g::text), '') from generate_series(1, 300) g)`;
      const steps = ['alter table wal_note alter column body set storage external',
        `insert into wal_note values (1, 'one', ${body}, false, 0.5), (2, 'two', 'short', false, 1.5)`,
        'update wal_note set flag = true where id = 1',
        'alter table wal_note add column extra int not null default 5',
        `update wal_note set title = 'after add' where id = 2`,
        'update wal_note set extra = 6 where id = 1',
        'alter table wal_note drop column approx',
        `update wal_note set title = 'after drop' where id = 1`,
        `begin; update wal_note set title = 'in one transaction' where id = 2; alter table wal_note add column late text default 'l'; ` +
          'update wal_note set flag = true where id = 2; commit',
        'alter table wal_note alter column extra type bigint',
        'delete from wal_note where id = 2'];
      for (const orm of [byTrigger, byWal]) for (const step of steps) await orm.em.getConnection().execute(step);
      const expected = (await relayed(byTrigger)).map(content);
      const actual = (await relayed(byWal, 2)).map(content);
      assert.is(expected.length, 8);
      const big = (await byWal.em.getConnection().execute(`select body from wal_note where id = 1`))[0].body as string;
      assert.is(expected[2]!.state!.body, big, 'the trigger saw the stored body');
      assert.is(expected[0]!.state!.extra, undefined, 'a change before the column was added');
      assert.is(expected[3]!.state!.approx, 1.5, 'a change before the column was dropped');
      assert.ok(expected[6]!.state!.late === 'l' && expected[6]!.previous!.late === undefined, 'a transaction that added a column');
      assert.equal(actual, expected);
    } finally {
      await byTrigger.close();
      await byWal.close();
    }
  });

  test('cqrs status shows the slot lag, and warns past the threshold of retained WAL with how to drop the slot', async () => {
    const orm = await getBackend('postgres').createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      await installOutbox(orm.em.fork(), { capture: 'wal' });
      await writeAuthors(orm, ...Array.from({ length: 20 }, (_, i) => `lag-${i}`));
      const behind = await captureStatus(orm.em.fork(), { warnRetainedBytes: 1 });
      assert.is(behind.mode, 'wal');
      assert.ok(behind.slot!.lagBytes > 0, JSON.stringify(behind));
      assert.is(behind.slot!.active, false);
      assert.is(behind.warnings.length, 1);
      assert.match(behind.warnings[0]!, `pg_drop_replication_slot('${behind.slot!.name}')`);
      assert.match(behind.warnings[0]!, 'no relay reads it');
      // other databases of the cluster write WAL too: the position, not the byte count, says the slot caught up
      const [{ written }] = await orm.em.getConnection().execute(`select pg_current_wal_insert_lsn()::text as written`);
      const passed = async (position: string) => (await orm.em.getConnection().execute(`select ?::pg_lsn >= ?::pg_lsn as passed`, [position, written]))[0].passed;
      assert.is(await passed(behind.slot!.confirmedPosition), false);
      await relayed(orm);
      const caughtUp = await captureStatus(orm.em.fork());
      assert.is(await passed(caughtUp.slot!.confirmedPosition), true, `${caughtUp.slot!.confirmedPosition} < ${written}`);
      assert.equal(caughtUp.warnings, []);
    } finally {
      await orm.close();
    }
  });

  test('from the command line: install --capture wal, relay --once, status (text and JSON)', async () => {
    const orm = await getBackend('postgres').createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      // the PostgreSQL transport, its message table in the master's own database
      const env = { ES_MASTER_URL: orm.config.get('clientUrl')!, ENTITY_SYNC_TRANSPORT: orm.config.get('clientUrl')! };
      const install = await cli(['cqrs', 'install', '--capture', 'wal'], env);
      assert.is(install.code, 0, install.stderr);
      assert.match(install.stdout, 'WAL capturing: author');
      await writeAuthors(orm, ...Array.from({ length: 5 }, (_, i) => `cli-${i}`));
      const relay = await cli(['cqrs', 'relay', '--once'], env);
      assert.is(relay.code, 0, relay.stderr);
      assert.match(relay.stdout, 'relayed 5 outbox entries');
      const status = await cli(['cqrs', 'status'], env);
      assert.is(status.code, 0, status.stderr);
      assert.match(status.stdout, 'capture: wal; outbox entries waiting: 0');
      assert.match(status.stdout, /slot entity_sync_\w+: no relay reading, lag \d+ bytes, retains \d+ bytes of WAL \(reserved\)/);
      const json = JSON.parse((await cli(['cqrs', 'status', '--json'], env)).stdout) as { mode: string; slot: { name: string; active: boolean } };
      assert.is(json.mode, 'wal');
      assert.match(json.slot.name, /^entity_sync_/);
      // a few MB of WAL nobody reads: a warning, how to drop the slot, and exit code 1
      await orm.em.getConnection().execute(`insert into author (name, email) select repeat('w', 200) || g, 'w' || g || '@example.org' from generate_series(1, 15000) g`);
      const warned = await cli(['cqrs', 'status', '--warn-retained', '1'], env);
      assert.is(warned.code, 1, warned.stderr);
      assert.match(warned.stderr, `warning: slot ${json.slot.name} retains`);
      assert.match(warned.stderr, `SELECT pg_drop_replication_slot('${json.slot.name}')`);
    } finally {
      await orm.close();
    }
  });

  test('one relay reads a slot at a time: relayPending beside a running relay fails with CQRS_SLOT_IN_USE; a second started relay takes over', async () => {
    const orm = await getBackend('postgres').createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const transport = new MemoryTransport();
    const received: string[] = [];
    await transport.subscribe('takeover', ['author'], async (message) => void received.push(String(message.state?.name)));
    const errors: string[] = [];
    const first = new OutboxRelay(orm.em.fork(), transport);
    const second = new OutboxRelay(orm.em.fork(), transport, { onError: (error) => void errors.push((error as { code?: string }).code ?? String(error)) });
    try {
      await installOutbox(orm.em.fork(), { capture: 'wal' });
      await first.start();
      await writeAuthors(orm, 'by-the-first');
      await until('the first relay to publish', () => received.includes('by-the-first'));
      const refused = await new OutboxRelay(orm.em.fork(), transport).relayPending().then(() => undefined, (error: { code?: string }) => error);
      assert.is(refused?.code, 'CQRS_SLOT_IN_USE');
      await second.start();
      await until('the second relay to be refused', () => errors.length > 0);
      assert.is(errors[0], 'CQRS_SLOT_IN_USE');
      await first.stop();
      await writeAuthors(orm, 'by-the-second');
      await until('the second relay to take over', () => received.includes('by-the-second'), 20_000);
      assert.equal(received, ['by-the-first', 'by-the-second']);
    } finally {
      await first.stop();
      await second.stop();
      await orm.close();
    }
  });

  test('switching back to trigger capture moves what the slot holds into the outbox, with revisions before the triggers\' ones, and drops the slot', async () => {
    const orm = await getBackend('postgres').createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      await installOutbox(orm.em.fork(), { capture: 'wal' });
      const slot = (await captureStatus(orm.em.fork())).slot!.name;
      await writeAuthors(orm, 'switching');
      await relayed(orm);
      const rename = (name: string) => orm.em.getConnection().execute(`update author set name = ? where name like 'switching%' or name like 'renamed%'`, [name]);
      await rename('renamed-in-the-slot');
      await installOutbox(orm.em.fork());
      await rename('renamed-by-the-trigger');
      const left = await orm.em.getConnection().execute(`select (select count(*)::int from pg_replication_slots where slot_name = ?) as slots, ` +
        `(select count(*)::int from pg_publication where pubname = ?) as publications`, [slot, slot]);
      assert.equal(left[0], { slots: 0, publications: 0 });
      const messages = (await relayed(orm)).map((message) => `${message.state?.name}@${message.revision}`);
      assert.equal(messages, ['renamed-in-the-slot@2', 'renamed-by-the-trigger@3']);
      assert.is((await captureStatus(orm.em.fork())).mode, 'trigger');
    } finally {
      await orm.close();
    }
  });

  test('the switch back to triggers is refused while a relay streams the slot (CQRS_SLOT_IN_USE), and changes nothing', async () => {
    const orm = await getBackend('postgres').createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const relay = new OutboxRelay(orm.em.fork(), new MemoryTransport());
    try {
      await installOutbox(orm.em.fork(), { capture: 'wal' });
      await relay.start();
      const refused = await installOutbox(orm.em.fork()).then(() => undefined, (error: { code?: string; message: string }) => error);
      assert.is(refused?.code, 'CQRS_SLOT_IN_USE');
      assert.match(refused!.message, 'stop that relay first');
      assert.is((await captureStatus(orm.em.fork())).mode, 'wal');
      const triggers = await orm.em.getConnection().execute(`select count(*)::int as n from pg_trigger where tgname = 'entity_sync_capture'`);
      assert.is(triggers[0].n, 0);
    } finally {
      await relay.stop();
      await orm.close();
    }
  });

  test('a relay started with trigger capture follows a switch to WAL capture', async () => {
    const orm = await getBackend('postgres').createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const transport = new MemoryTransport();
    const received: string[] = [];
    await transport.subscribe('follow', ['author'], async (message) => void received.push(String(message.state?.name)));
    const relay = new OutboxRelay(orm.em.fork(), transport, { pollMs: 100 });
    try {
      await installOutbox(orm.em.fork());
      await relay.start();
      await writeAuthors(orm, 'by-trigger');
      await until('the trigger capture\'s change', () => received.includes('by-trigger'));
      await installOutbox(orm.em.fork(), { capture: 'wal' });
      await writeAuthors(orm, 'by-wal');
      await until('the WAL capture\'s change', () => received.includes('by-wal'), 20_000);
      assert.equal(received, ['by-trigger', 'by-wal']);
    } finally {
      await relay.stop();
      await orm.close();
    }
  });

  test('install, either way, beside an app writing in transactions: no writer fails (no deadlock), and every change is captured once', async () => {
    const orm = await getBackend('postgres').createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      await installOutbox(orm.em.fork());
      let writing = true;
      const failures: string[] = [];
      let committed = 0;
      // each transaction writes the master table twice, with a pause between: it holds its lock while the install wants it
      const writer = async (n: number) => {
        for (let i = 0; writing; i++) {
          await orm.em.fork().transactional(async (em) => {
            const author = em.create(Author, { name: `w${n}-${i}`, email: `w${n}-${i}@example.org` });
            await em.flush();
            await new Promise((resolve) => setTimeout(resolve, 5));
            author.name = `w${n}-${i}-renamed`;
            await em.flush();
          }).then(() => void committed++, (error: Error) => void failures.push(error.message));
        }
      };
      const writers = [1, 2, 3, 4].map(writer);
      for (const capture of ['wal', 'trigger', 'wal', 'trigger'] as const) await installOutbox(orm.em.fork(), { capture });
      writing = false;
      await Promise.all(writers);
      assert.equal(failures, []);
      assert.ok(committed > 0);
      const names = new Set((await relayed(orm)).filter((message) => message.operation === 'save').map((message) => message.state?.name));
      const rows = await orm.em.getConnection().execute(`select name from author`);
      assert.is(rows.length, committed);
      for (const { name } of rows) assert.ok(names.has(name), `the last state of ${name} was not published`);
    } finally {
      await orm.close();
    }
  });

  test('install as a role with neither REPLICATION nor superuser refuses before it changes anything', async () => {
    const orm = await getBackend('postgres').createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const url = new URL(orm.config.get('clientUrl')!);
    const role = `plain_${process.pid}`;
    await orm.em.getConnection().execute(`drop role if exists ${role}; create role ${role} login; grant all on schema public to ${role}; ` +
      `grant all on all tables in schema public to ${role}`);
    url.username = role;
    const plain = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: url.toString(), metadataProvider: ReflectMetadataProvider,
      entities: libraryEntities, extensions: [EntitySync] } as never).catch(() => undefined);
    try {
      assert.ok(plain, 'could not connect as the plain role');
      const error = await installOutbox(plain!.em.fork(), { capture: 'wal' }).then(() => undefined, (caught: { code?: string; message: string }) => caught);
      assert.is(error?.code, 'CQRS_WAL_UNAVAILABLE');
      assert.match(error!.message, `the role ${role} has neither the REPLICATION attribute nor superuser`);
      const left = await orm.em.getConnection().execute(`select (select count(*)::int from pg_publication) as publications, ` +
        `to_regclass('entity_sync_outbox') is null as no_outbox`);
      assert.equal(left[0], { publications: 0, no_outbox: true });
    } finally {
      await plain?.close();
      await orm.close();
    }
  });

  test.run();
}
