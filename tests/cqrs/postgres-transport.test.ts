import 'reflect-metadata';
import { EntitySync, installOutbox, installReplica, OutboxRelay, ReplicaApplier, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { PostgresTransport, pgClient, pgliteClient, type SqlClient } from '@entity-sync/adapters/postgres';
import { Replica } from '@entity-sync/core';
import { PostgresBackend, testBackends, type TestBackend } from '@entity-sync/testing';
import { PGlite } from '@electric-sql/pglite';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Author, libraryEntities } from '../../examples/library/src/index.js';

@Entity({ tableName: 'writer' })
@Replica('author')
class Writer {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
  @Property() email!: string;
}

let buses = 0;

/** A message bus database of its own: a database on the test cluster, or a PGlite instance. */
async function openBus(backend: TestBackend): Promise<SqlClient> {
  if (backend instanceof PostgresBackend) {
    const cluster = await backend.clusterInstance();
    const name = `bus_${process.pid}_${++buses}`;
    await cluster.createDatabase(name);
    return pgClient(new pg.Pool({ connectionString: cluster.url(name), max: 4 }), true);
  }
  const pglite = await PGlite.create();
  const client = pgliteClient(pglite);
  return { ...client, close: () => pglite.close() };
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.unreachable(`timed out waiting for ${what}`);
}

for (const backend of testBackends()) {
  const test = suite(`PostgreSQL transport [${backend.name}]`);

  test('master changes reach a replica through the message table, in revision order, once in effect', async () => {
    const master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const replica = await backend.createOrm({ entities: [Writer], extensions: [EntitySync] });
    const transport = new PostgresTransport(await openBus(backend), { pollMs: 100 });
    try {
      await installOutbox(master.em.fork());
      await installReplica(replica.em.fork());
      await transport.install();
      const applier = new ReplicaApplier(replica.em.fork());
      const subscription = await transport.subscribe('library-writers', applier.cqrsIds, async (message) => void await applier.apply(message));

      const em = master.em.fork();
      const authors = Array.from({ length: 8 }, (_, i) => em.create(Author, { name: `W${i}`, email: `w${i}@example.org` }));
      await em.flush();
      for (const author of authors.slice(0, 4)) author.name = `${author.name} (edited)`;
      await em.flush();
      em.remove(authors[7]!);
      await em.flush();
      while ((await new OutboxRelay(master.em.fork(), transport).relayPending()).relayed > 0);
      await until(async () => (await transport.pending()) === 0, 'the queue to drain');

      const inMaster = (await master.em.fork().find(Author, {}, { orderBy: { id: 'asc' } })).map((a) => `${a.id}:${a.name}:${a.email}`);
      const inReplica = (await replica.em.fork().find(Writer, {}, { orderBy: { id: 'asc' } })).map((w) => `${w.id}:${w.name}:${w.email}`);
      assert.equal(inReplica, inMaster);
      await subscription.stop();
    } finally {
      await transport.close();
      await master.close();
      await replica.close();
    }
  });

  test('a poison message is retried with backoff, dead-lettered, and replayed after the fix', async () => {
    const replica = await backend.createOrm({ entities: [Writer], extensions: [EntitySync] });
    const transport = new PostgresTransport(await openBus(backend), { pollMs: 50, maxAttempts: 3, retryDelayMs: 10 });
    try {
      await installReplica(replica.em.fork());
      await transport.install();
      const applier = new ReplicaApplier(replica.em.fork());
      let attempts = 0;
      let fixed = false;
      const subscription = await transport.subscribe('q', ['author'], async (message) => {
        attempts += 1;
        await applier.apply(fixed ? { ...message, state: { ...message.state, name: 'fixed' } } : message);
      });
      await transport.publish([{ version: 1, id: 'p', cqrsId: 'author', operation: 'save', key: [9], revision: 1,
        state: { id: 9, email: 'p@example.org' }, createdAt: new Date().toISOString() }]);
      await until(async () => (await transport.deadLetters('q')).length === 1, 'the dead letter');
      assert.is(attempts, 3);
      const [letter] = await transport.deadLetters('q');
      assert.is(letter!.attempts, 3);
      assert.match(letter!.error, 'lacks name, which Writer requires');
      assert.is(await replica.em.fork().count(Writer), 0);
      fixed = true;
      assert.is(await transport.retryDeadLetters('q'), 1);
      await until(async () => (await transport.pending('q')) === 0, 'the replay');
      assert.is((await replica.em.fork().findOneOrFail(Writer, 9)).name, 'fixed');
      assert.equal(await transport.deadLetters(), []);
      await subscription.stop();
    } finally {
      await transport.close();
      await replica.close();
    }
  });

  test('with concurrency, a subscription claims several messages at once and a ReplicaConsumer applies them together', async () => {
    const master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const replica = await backend.createOrm({ entities: [Writer], extensions: [EntitySync] });
    const transport = new PostgresTransport(await openBus(backend), { pollMs: 100, concurrency: 50 });
    try {
      await installOutbox(master.em.fork());
      await installReplica(replica.em.fork());
      await transport.install();
      // a plain handler sees the claimed messages in flight together
      let inFlight = 0;
      let most = 0;
      const order: string[] = [];
      await transport.declareQueue('peek', ['author']);
      await transport.declareQueue('library-writers', ['author']);
      const em = master.em.fork();
      const authors = Array.from({ length: 30 }, (_, i) => em.create(Author, { name: `C${i}`, email: `c${i}@example.org` }));
      await em.flush();
      for (const author of authors.slice(0, 10)) author.name = `${author.name} (edited)`;
      await em.flush();
      em.remove(authors.slice(20, 25));
      await em.flush();
      await new OutboxRelay(master.em.fork(), transport).relayPending();
      const peek = await transport.subscribe('peek', ['author'], async (message) => {
        order.push(message.id);
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
      });
      await until(async () => (await transport.pending('peek')) === 0, 'the peek queue to drain');
      await peek.stop();
      assert.ok(most > 1, `one message at a time (${most})`);
      assert.is(order.length, 45);

      const consumer = new ReplicaConsumer(replica.em.fork(), transport, { queue: 'library-writers' });
      await consumer.start();
      await until(async () => (await transport.pending('library-writers')) === 0, 'the queue to drain');
      await consumer.stop();
      const stats = consumer.stats();
      assert.is(stats.failed, 0);
      assert.is(stats.applied + stats.stale + stats.duplicates, 45);
      const inMaster = (await master.em.fork().find(Author, {}, { orderBy: { id: 'asc' } })).map((a) => `${a.id}:${a.name}:${a.email}`);
      const inReplica = (await replica.em.fork().find(Writer, {}, { orderBy: { id: 'asc' } })).map((w) => `${w.id}:${w.name}:${w.email}`);
      assert.equal(inReplica, inMaster);
    } finally {
      await transport.close();
      await master.close();
      await replica.close();
    }
  });

  test.run();
}
