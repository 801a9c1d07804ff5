// The outbox relay across a restart of the master's database: it listens again and still wakes on commit.
import 'reflect-metadata';
import { EntitySync, installOutbox, OutboxRelay } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { createTestOrm, findPostgresBinDir, PostgresCluster } from '@entity-sync/testing';
import type { CqrsMessage, Transport } from '@entity-sync/core';
import { createSchema, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { until } from '../support/until.js';
import { Author, libraryEntities } from '../../examples/library/src/index.js';


const backoff = suite('outbox relay backoff');

backoff('while the broker is down, commits do not cut the backoff short: a few attempts, not one per commit', async () => {
  const orm = await createTestOrm({ entities: libraryEntities, extensions: [EntitySync] });
  let attempts = 0;
  const down: Transport = {
    publish: async (_: CqrsMessage[]) => {
      attempts += 1;
      throw new Error('connect ECONNREFUSED 127.0.0.1:5672');
    },
    subscribe: async () => ({ stop: async () => {} }),
    close: async () => {},
  };
  const relay = new OutboxRelay(orm.em.fork(), down, { pollMs: 60_000, onError: () => {} });
  try {
    await installOutbox(orm.em.fork());
    await relay.start();
    const started = Date.now();
    for (let i = 0; Date.now() - started < 2000; i++) {
      const em = orm.em.fork();
      em.create(Author, { name: `a${i}`, email: `a${i}@example.org` });
      await em.flush();
      await sleep(10);
    }
    // 200 + 400 + 800 ms of backoff fit in two seconds: four or five attempts, where every commit used to make one
    assert.ok(attempts >= 2 && attempts <= 6, `${attempts} publish attempts in 2 s`);
  } finally {
    await relay.stop();
    await orm.close();
  }
});

backoff.run();

if (process.env.CI === 'true' || findPostgresBinDir()) {
  const test = suite('outbox relay across a restart of the master database');

  test('after the master database restarts, a commit wakes the relay again (no poll for a minute), and the loss was reported', async () => {
    const cluster = await PostgresCluster.start();
    let orm: MikroORM | undefined;
    let relay: OutboxRelay | undefined;
    try {
      await cluster.createDatabase('master');
      orm = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: cluster.url('master'), metadataProvider: ReflectMetadataProvider, entities: libraryEntities, extensions: [EntitySync] } as never);
      await createSchema(orm);
      await installOutbox(orm.em.fork());
      const transport = new MemoryTransport();
      const received: string[] = [];
      await transport.subscribe('restart', ['author'], async (message) => void received.push(message.id));
      const errors: string[] = [];
      relay = new OutboxRelay(orm.em.fork(), transport, { pollMs: 60_000, onError: (error) => void errors.push(String(error)) });
      await relay.start();
      const write = async (name: string) => {
        const em = orm!.em.fork();
        em.create(Author, { name, email: `${name}@example.org` });
        await em.flush();
      };
      await write('before');
      await until('the message written before the restart', () => received.length === 1);

      cluster.pause();
      await sleep(1000);
      cluster.resume();
      // the first writes after the restart may meet connections the server dropped
      await until('a write after the restart', () => write('after').then(() => true, () => false));
      await until('the message written after the restart', () => received.length === 2, 10_000);
      assert.ok(errors.length > 0, 'the lost LISTEN connection was reported');
    } finally {
      await relay?.stop();
      await orm?.close();
      cluster.stop();
    }
  });

  test.run();
}
