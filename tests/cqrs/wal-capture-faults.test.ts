// WAL capture under the faults trigger capture's tests inflict, on a real PostgreSQL started with
// wal_level = logical: the master database restarted under a started relay, a relay killed
// (SIGKILL) between publish and slot confirmation, the broker stopped and restarted; and a slot
// that PostgreSQL gave up on because it kept too much WAL.
import 'reflect-metadata';
import { captureStatus, EntitySync, installOutbox, installReplica, OutboxRelay, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import { findPostgresBinDir, getBackend, PostgresCluster, rabbitMqAvailable, rabbitMqBroker, type RabbitMqBroker } from '@entity-sync/testing';
import { createSchema, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
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
import { AuthorReplica } from './fixtures/replica-entities.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// spawned processes compile the repository's TypeScript files only (under the test runner import.meta.url is file:////...)
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');

async function writeAuthors(orm: MikroORM, ...names: string[]): Promise<void> {
  for (const name of names) {
    const em = orm.em.fork();
    em.create(Author, { name, email: `${name}@example.org` });
    await em.flush();
  }
}

// A master database with the library schema on a cluster of the test's own.
async function libraryMaster(cluster: PostgresCluster): Promise<MikroORM> {
  await cluster.createDatabase('master');
  const orm = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: cluster.url('master'), metadataProvider: ReflectMetadataProvider,
    entities: libraryEntities, extensions: [EntitySync] } as never);
  await createSchema(orm);
  return orm;
}

const hasPostgres = process.env.CI === 'true' || !!findPostgresBinDir();

if (hasPostgres) {
  const faults = suite('WAL capture under faults: the master restarted, a relay killed with SIGKILL, the broker restarted');

  faults('after the master database restarts, a started relay reads the slot again: nothing is lost, a change goes out again only as the same message', async () => {
    const cluster = await PostgresCluster.start();
    let orm: MikroORM | undefined;
    let relay: OutboxRelay | undefined;
    try {
      orm = await libraryMaster(cluster);
      await installOutbox(orm.em.fork(), { capture: 'wal' });
      const transport = new MemoryTransport();
      const received: string[] = [];
      const ids: string[] = [];
      await transport.subscribe('restart', ['author'], async (message) => {
        received.push(String(message.state?.name));
        ids.push(message.id);
      });
      relay = new OutboxRelay(orm.em.fork(), transport, { onError: () => {} });
      await relay.start();
      await writeAuthors(orm, 'before');
      await until('the change written before the restart', () => received.length === 1);
      cluster.pause();
      cluster.resume();
      await until('a write after the restart', () => writeAuthors(orm!, 'after').then(() => true, () => false));
      await until('the change written after the restart', () => received.includes('after'), 15_000);
      // a batch whose commit the restart cut off goes out again, as the same message (replicas drop the copy by revision)
      assert.equal([...new Set(ids.filter((_, i) => received[i] === 'before'))], [ids[0]]);
    } finally {
      await relay?.stop();
      await orm?.close();
      cluster.stop();
    }
  });

  faults('a slot PostgreSQL gave up on (max_slot_wal_keep_size): status warns, the relay and a WAL install refuse with CQRS_SLOT_LOST, and doing what the error says starts over', async () => {
    const cluster = await PostgresCluster.start();
    let orm: MikroORM | undefined;
    try {
      orm = await libraryMaster(cluster);
      const sql = (text: string) => orm!.em.getConnection().execute(text);
      await installOutbox(orm.em.fork(), { capture: 'wal' });
      await writeAuthors(orm, 'missed');
      // a cluster of this test's own: a slot may keep 1 MB of WAL; new segments and a checkpoint remove what it needs
      await sql(`alter system set max_slot_wal_keep_size = '1MB'`);
      await sql('select pg_reload_conf()');
      await until('the slot is lost', async () => {
        await sql(`insert into author (name, email) select 'filler ' || g, 'filler' || g || '@example.org' from generate_series(1, 2000) g`);
        await sql('select pg_switch_wal()');
        await sql('checkpoint');
        return (await captureStatus(orm!.em.fork())).slot?.walStatus === 'lost';
      }, 30_000);
      const status = await captureStatus(orm.em.fork());
      assert.ok(status.warnings.some((warning) => warning.includes('is lost') && warning.includes('pg_drop_replication_slot')), JSON.stringify(status.warnings));
      const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (caught: unknown) => caught as { code?: string; message: string });
      const relayed = await refusal(new OutboxRelay(orm.em.fork(), new MemoryTransport()).relayPending());
      assert.is(relayed?.code, 'CQRS_SLOT_LOST', String(relayed?.message));
      const reinstalled = await refusal(installOutbox(orm.em.fork(), { capture: 'wal' }));
      assert.is(reinstalled?.code, 'CQRS_SLOT_LOST', String(reinstalled?.message));
      // what the message says to do: drop the slot and install again; the relay then publishes what is written from there on
      const drop = /SELECT pg_drop_replication_slot\('[^']+'\)/.exec(reinstalled!.message)![0];
      await sql(drop);
      await installOutbox(orm.em.fork(), { capture: 'wal' });
      await writeAuthors(orm, 'after');
      const published: string[] = [];
      await new OutboxRelay(orm.em.fork(), new MemoryTransport(), { onPublished: (messages) => void published.push(...messages.map((m) => String(m.state?.name))) }).relayPending();
      assert.equal(published, ['after']);
    } finally {
      await orm?.close();
      cluster.stop();
    }
  });

  if (rabbitMqAvailable()) {
    let broker: RabbitMqBroker;
    faults.before(async () => {
      broker = await rabbitMqBroker();
    });

    // A master and a replica database, the replica consuming from RabbitMQ.
    const pipeline = async (queue: string) => {
      const backend = getBackend('postgres');
      const master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
      const replica = await backend.createOrm({ entities: [AuthorReplica], extensions: [EntitySync] });
      await installOutbox(master.em.fork(), { capture: 'wal' });
      await installReplica(replica.em.fork());
      const transport = new RabbitMqTransport({ url: broker.url });
      await transport.declareQueue(queue, ['author']);
      const masterRows = async () => (await master.em.fork().find(Author, {}, { orderBy: { id: 'asc' } })).map((a) => `${a.id}:${a.name}`);
      const replicaRows = async () => (await replica.em.fork().find(AuthorReplica, {}, { orderBy: { id: 'asc' } })).map((a) => `${a.id}:${a.name}`);
      const burst = async (prefix: string, count: number) => {
        for (let i = 0; i < count; i++) {
          const em = master.em.fork();
          const author = em.create(Author, { name: `${prefix}-${i}`, email: `${prefix}-${i}@example.org` });
          await em.flush();
          if (i % 3 === 0) {
            author.name = `${prefix}-${i}-renamed`;
            await em.flush();
          }
          if (i % 5 === 0) {
            em.remove(author);
            await em.flush();
          }
        }
      };
      const close = async () => {
        await transport.close();
        await master.close();
        await replica.close();
      };
      return { master, replica, transport, masterRows, replicaRows, burst, close };
    };

    faults('a relay killed (SIGKILL) between publish and slot advance publishes again; the replica drops the duplicates', async () => {
      const { master, replica, transport, masterRows, replicaRows, burst, close } = await pipeline('wal-killed-relay');
      try {
        await burst('killed', 30);
        const child = spawn(process.execPath, ['--import', TS_REGISTER, join(root, 'tests/cqrs/fixtures/relay-crash.ts')], {
          cwd: root, env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json'), ES_MASTER_URL: master.config.get('clientUrl')!, ENTITY_SYNC_TRANSPORT: broker.url },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => (stdout += chunk));
        child.stderr.on('data', (chunk) => (stderr += chunk));
        killAfter(child, 60_000, 'relay-crash', () => ({ stdout, stderr }), (error) => console.error(error.message));
        const signal = await new Promise((resolve) => child.on('close', (_code, closed) => resolve(closed)));
        assert.is(signal, 'SIGKILL', stderr);
        const published = Number(/published (\d+)/.exec(stdout)?.[1]);
        assert.ok(published > 0, stdout);
        assert.ok((await captureStatus(master.em.fork())).slot!.lagBytes > 0, 'the killed relay advanced the slot');

        const consumer = new ReplicaConsumer(replica.em.fork(), transport, { queue: 'wal-killed-relay' });
        await consumer.start();
        const { relayed } = await new OutboxRelay(master.em.fork(), transport).relayPending();
        assert.ok(relayed >= published, `${relayed} < ${published}`);
        await until('the replica to equal the master', async () => JSON.stringify(await replicaRows()) === JSON.stringify(await masterRows()), 30_000);
        await until('both copies of the first batch to be handled', () => {
          const stats = consumer.stats();
          return stats.applied + stats.duplicates + stats.stale >= relayed + published;
        }, 30_000);
        const stats = consumer.stats();
        await consumer.stop();
        assert.is(stats.applied, relayed, `a change was applied twice, or not at all: ${JSON.stringify(stats)}`);
        assert.is(stats.failed, 0);
      } finally {
        await close();
      }
    });

    faults('the broker stopped and restarted under a started relay: nothing is lost or applied out of order', async () => {
      const { master, replica, transport, masterRows, replicaRows, burst, close } = await pipeline('wal-broker-restart');
      const consumer = new ReplicaConsumer(replica.em.fork(), transport, { queue: 'wal-broker-restart' });
      const relay = new OutboxRelay(master.em.fork(), transport, { onError: () => {} });
      try {
        await consumer.start();
        await relay.start();
        await burst('up', 10);
        await until('the first changes on the replica', async () => JSON.stringify(await replicaRows()) === JSON.stringify(await masterRows()), 30_000);
        await broker.stop();
        await burst('down', 20);
        await broker.resume();
        await burst('back', 10);
        await until('the replica to equal the master', async () => JSON.stringify(await replicaRows()) === JSON.stringify(await masterRows()), 60_000);
        assert.is(consumer.stats().failed, 0);
        assert.is(consumer.stats().gaps, 0, 'a revision was skipped');
      } finally {
        await relay.stop();
        await consumer.stop();
        await close();
      }
    });
  }

  faults.run();
}
