// What a relay or consumer started on a database that is not ready says, before it takes a message.
import 'reflect-metadata';
import { EntitySync, installReplica, OutboxRelay, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { Replica } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { libraryEntities } from '../../examples/library/src/index.js';

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
