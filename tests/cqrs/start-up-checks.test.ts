// What a relay or consumer started on a database that is not ready says, before it takes a message.
import 'reflect-metadata';
import { EntitySync, installOutbox, installReplica, OutboxRelay, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { PostgresTransport, pgliteClient } from '@entity-sync/adapters/postgres';
import { PGlite } from '@electric-sql/pglite';
import { CQRS_MESSAGE_VERSION, Replica, type Transport, type TransportAdmin } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Author, libraryEntities } from '../../examples/library/src/index.js';
import { until } from '../support/until.js';

@Entity({ tableName: 'startup_writer' })
@Replica('startup-author')
class StartupWriter {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
  @Property({ nullable: true }) bio?: string;
}

@Entity({ tableName: 'startup_unmigrated' })
class StartupUnmigrated {
  @PrimaryKey() id!: number;
}

for (const backend of testBackends()) {
  const test = suite(`CQRS start-up checks [${backend.name}]`);

  test('a relay started before cqrs install says to run it', async () => {
    const orm = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      const error = await new OutboxRelay(orm.em.fork(), new MemoryTransport()).start().catch((e) => e);
      assert.is(error.code, 'CQRS_NOT_INSTALLED');
      assert.match(error.message, 'entity_sync_outbox, entity_sync_revision does not exist');
      assert.match(error.message, 'run `entity-sync cqrs install (or installOutbox(em))` first');
    } finally {
      await orm.close();
    }
  });

  test('outbox entries of a CQRS id no @Master declares stop the relay at start, and a running relay leaves them unsent', async () => {
    const orm = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const schema = orm.config.get('schema') ?? 'public';
    const outbox = `"${schema}".entity_sync_outbox`;
    const count = async (where: string) => Number((await orm.em.getConnection().execute(`SELECT count(*)::int AS n FROM ${outbox} WHERE ${where}`))[0].n);
    let relay: OutboxRelay | undefined;
    try {
      await installOutbox(orm.em.fork());
      // what a renamed @Master leaves behind: entries its old capture trigger wrote
      await orm.em.fork().persist(Object.assign(new Author(), { name: 'Renamed', email: 'renamed@example.com' })).flush();
      await orm.em.getConnection().execute(`UPDATE ${outbox} SET cqrs_id = 'writer'`);
      const transport = new MemoryTransport();
      const refused = new OutboxRelay(orm.em.fork(), transport);
      for (const start of [() => refused.start(), () => new OutboxRelay(orm.em.fork(), transport).relayPending()]) {
        const error = await start().catch((e) => e);
        await refused.stop();
        assert.is(error.code, 'CQRS_UNKNOWN_ID');
        assert.match(error.message, "The outbox holds entries of 'writer' (1), which no @Master of this ORM declares (it declares author");
      }
      await orm.em.getConnection().execute(`DELETE FROM ${outbox}`);

      relay = new OutboxRelay(orm.em.fork(), transport, { pollMs: 50 });
      await relay.start();
      await orm.em.getConnection().execute(`INSERT INTO ${outbox} (tx, cqrs_id, key, operation, revision, state) VALUES (1, 'writer', '[1]', 'save', 1, '{"id":1}')`);
      await orm.em.fork().persist(Object.assign(new Author(), { name: 'Known', email: 'known@example.com' })).flush();
      await until('the known entry to be relayed', async () => (await count("cqrs_id = 'author'")) === 0, 30_000, 50);
      assert.is(await count("cqrs_id = 'writer'"), 1, 'the unknown entry was left for a relay that knows it');
    } finally {
      await relay?.stop();
      await orm.close();
    }
  });

  test('a consumer started before installReplica, or on a table that lacks a mapped column, fails at start with a typed error', async () => {
    const orm = await backend.createOrm({ entities: [StartupWriter], extensions: [EntitySync] });
    try {
      const transport = new MemoryTransport();
      const consumer = () => new ReplicaConsumer(orm.em.fork(), transport, { queue: 'startup' });
      const notInstalled = await consumer().start().catch((e) => e);
      assert.is(notInstalled.code, 'CQRS_NOT_INSTALLED');
      assert.match(notInstalled.message, 'installReplica(em)');

      await installReplica(orm.em.fork());
      const schema = orm.config.get('schema') ?? 'public';
      await orm.em.getConnection().execute(`ALTER TABLE "${schema}".startup_writer DROP COLUMN bio`);
      const mismatch = await consumer().start().catch((e) => e);
      assert.is(mismatch.code, 'CQRS_SCHEMA_MISMATCH');
      assert.match(mismatch.message, "The replica's tables lack what its entities map: StartupWriter.bio (column startup_writer.bio)");
      assert.equal(await transport.deadLetters(), []);
    } finally {
      await orm.close();
    }
  });

  test('a queue bound to, or holding messages of, a CQRS id no @Replica declares stops the consumer at start; nothing is dead-lettered', async () => {
    const orm = await backend.createOrm({ entities: [StartupWriter], extensions: [EntitySync] });
    const pglite = await PGlite.create();
    const postgres = new PostgresTransport(pgliteClient(pglite), { pollMs: 50 });
    const stray = { version: CQRS_MESSAGE_VERSION, id: 'gone/[1]/1', cqrsId: 'gone', operation: 'save' as const, key: [1], revision: 1,
      state: { id: 1 }, createdAt: new Date().toISOString() };
    try {
      await installReplica(orm.em.fork());
      await postgres.install();
      const memory = new MemoryTransport();
      // a binding left by another service's install; a message already waiting in the queue
      await memory.declareQueue('startup', ['startup-author', 'gone']);
      await postgres.declareQueue('startup', ['gone']);
      await postgres.publish([stray]);
      await postgres.declareQueue('startup', ['startup-author']);
      for (const transport of [memory, postgres] as (Transport & Required<Pick<TransportAdmin, 'cqrsIdsOf' | 'deadLetters'>>)[]) {
        const error = await new ReplicaConsumer(orm.em.fork(), transport, { queue: 'startup' }).start().catch((e) => e);
        assert.is(error?.code, 'CQRS_UNKNOWN_ID', String(error));
        assert.match(error.message, "Queue 'startup' is bound to or holds messages of 'gone', which no @Replica of this ORM declares (it declares startup-author)");
        assert.equal(await transport.deadLetters('startup'), []);
      }
      assert.equal(await postgres.cqrsIdsOf('startup'), ['gone', 'startup-author']);
    } finally {
      await postgres.close();
      await pglite.close();
      await orm.close();
    }
  });

  test("a table of another entity that is not there does not keep the consumer from starting: only the replicas' are checked", async () => {
    const orm = await backend.createOrm({ entities: [StartupWriter, StartupUnmigrated], extensions: [EntitySync] });
    try {
      await installReplica(orm.em.fork());
      await orm.em.getConnection().execute(`DROP TABLE "${orm.config.get('schema') ?? 'public'}".startup_unmigrated`);
      const consumer = new ReplicaConsumer(orm.em.fork(), new MemoryTransport(), { queue: 'startup' });
      await consumer.start();
      await consumer.stop();
    } finally {
      await orm.close();
    }
  });

  test.run();
}
