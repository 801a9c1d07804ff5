// A replica database that goes away while messages flow: the consumer waits for it instead of
// spending the messages' attempts, and the replica ends equal to what was published, with no dead letters.
import 'reflect-metadata';
import { EntitySync, installReplica, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { CQRS_MESSAGE_VERSION, Replica, type CqrsMessage } from '@entity-sync/core';
import { findPostgresBinDir, PostgresCluster } from '@entity-sync/testing';
import { MikroORM } from '@mikro-orm/core';
import { connectionTimeoutOptions, createSchema, Entity, PrimaryKey, Property, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { until } from '../support/until.js';

@Entity({ tableName: 'outage_writer' })
@Replica('outage-author')
class OutageWriter {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
}

const message = (n: number, revision = 1): CqrsMessage => ({
  version: CQRS_MESSAGE_VERSION, id: `outage-author/${n}/${revision}`, cqrsId: 'outage-author', operation: 'save', key: [n], revision,
  state: { id: n, name: `writer ${n} r${revision}` }, createdAt: new Date().toISOString(),
});


if (process.env.CI === 'true' || findPostgresBinDir()) {
  const test = suite('replica consumer across an outage of the replica database');

  test('messages consumed while the replica database is stopped wait for it: none is dead-lettered, the replica ends equal', async () => {
    const cluster = await PostgresCluster.start();
    let orm: MikroORM | undefined;
    let consumer: ReplicaConsumer | undefined;
    const outages: number[] = [];
    try {
      await cluster.createDatabase('replica');
      orm = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: cluster.url('replica'), metadataProvider: ReflectMetadataProvider, entities: [OutageWriter], extensions: [EntitySync],
        ...connectionTimeoutOptions(2000) } as never);
      await createSchema(orm);
      await installReplica(orm.em.fork());
      const transport = new MemoryTransport({ maxAttempts: 5 });
      consumer = new ReplicaConsumer(orm.em.fork(), transport, { queue: 'outage', onOutage: (_, retryInMs) => void outages.push(retryInMs) });
      await consumer.start();
      await transport.publish(Array.from({ length: 10 }, (_, i) => message(i + 1)));
      await until('the first messages', async () => (await orm!.em.fork().count(OutageWriter)) === 10, 30_000, 100);

      cluster.pause();
      await transport.publish([...Array.from({ length: 20 }, (_, i) => message(i + 11)), ...Array.from({ length: 10 }, (_, i) => message(i + 1, 2))]);
      await sleep(3000);
      cluster.resume();
      await until('every message', async () => (await orm!.em.fork().count(OutageWriter).catch(() => -1)) === 30 &&
        (await orm!.em.fork().count(OutageWriter, { name: { $like: '% r2' } })) === 10, 30_000, 100);
      await transport.drain();
      assert.equal((await transport.deadLetters()).map((letter) => letter.message.id), [], 'nothing was dead-lettered');
      assert.ok(outages.length > 0, 'the outage was reported');
      assert.is(consumer.stats().outages, outages.length);
    } finally {
      await consumer?.stop();
      await orm?.close();
      cluster.stop();
    }
  });

  test.run();
}
