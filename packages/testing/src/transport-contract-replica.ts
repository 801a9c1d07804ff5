import { EntitySync, installReplica, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { registerReplica, type Transport } from '@entity-sync/core';
import { EntitySchema, MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import * as assert from 'uvu/assert';
import { connectionTimeoutOptions, createSchema } from './mikro-orm-version.js';
import { findPostgresBinDir, PostgresCluster } from './postgres-cluster.js';
import { contractMessage, fresh, type ContractCase, type OpenedTransports } from './transport-contract-support.js';
import type { TransportFixture } from './transport-fixture.js';
import { until } from './until.js';

interface ContractRow {
  id: number;
  name: string;
}

/** Whether the replica-outage test can have its PostgreSQL cluster (see `TransportFixture.replicaDatabase`). */
export function replicaDatabaseAvailable<T extends Transport>(fixture: TransportFixture<T>): boolean {
  return fixture.replicaDatabase ?? (process.env.CI === 'true' || findPostgresBinDir() !== undefined);
}

// A @Replica entity of its own CQRS id, so that no queue of an earlier run on the same broker takes its messages.
function replicaEntity(cqrsId: string): EntitySchema<ContractRow> {
  const schema = new EntitySchema<ContractRow>({
    name: 'ContractReplicaRow',
    tableName: 'contract_replica_row',
    properties: {
      id: { type: 'number', primary: true, autoincrement: false },
      name: { type: 'string' },
    },
  });
  registerReplica(schema, cqrsId);
  return schema;
}

/**
 * The replica's database stops while messages flow through the transport: a `ReplicaConsumer`
 * holds its message and waits, so nothing is dead-lettered and the replica ends complete.
 */
export function replicaOutageCase<T extends Transport>(fixture: TransportFixture<T>,
  scoped: (body: (opened: OpenedTransports<T>) => Promise<void>) => Promise<void>, available: boolean): ContractCase {
  return {
    name: 'a replica database that goes away pauses its consumer instead of dead-lettering: the replica ends complete',
    needs: available ? undefined : 'PostgreSQL binaries for a replica database (set ENTITY_SYNC_PG_BIN, or fixture.replicaDatabase)',
    run: () => scoped(async (opened) => {
      const cqrsId = fresh('replica');
      const entity = replicaEntity(cqrsId);
      const cluster = await PostgresCluster.start();
      let orm: MikroORM | undefined;
      let consumer: ReplicaConsumer | undefined;
      try {
        await cluster.createDatabase('contract_replica');
        orm = await MikroORM.init({
          driver: PostgreSqlDriver, clientUrl: cluster.url('contract_replica'), entities: [entity], extensions: [EntitySync],
          ...connectionTimeoutOptions(2000), allowGlobalContext: true,
        } as never);
        await createSchema(orm);
        await installReplica(orm.em.fork());
        const transport = await opened.transport({ maxAttempts: 2, retryDelayMs: 20 });
        const outages: number[] = [];
        const failures: string[] = [];
        consumer = new ReplicaConsumer(orm.em.fork(), transport, {
          queue: cqrsId,
          onOutage: (_, retryInMs) => void outages.push(retryInMs),
          onMessage: (message, outcome) => void (outcome instanceof Error && failures.push(`${message.id}: ${outcome.message}`)),
        });
        await consumer.start();
        const rows = (n: number, revision: number) => Array.from({ length: n }, (_, i) => contractMessage(cqrsId, i + 1, revision, { id: i + 1, name: `row ${i + 1} r${revision}` }));
        const count = (where: object = {}) => orm!.em.fork().count(entity, where).catch(() => -1);
        await transport.publish(rows(10, 1));
        await until('the first messages', async () => (await count()) === 10, 60_000, 100);

        cluster.pause();
        try {
          await transport.publish([...rows(30, 1).slice(10), ...rows(10, 2)]);
          // three waits (100 + 200 + 400 ms): each would have spent an attempt of a consumer that retried through the transport
          await until('the consumer to report the outage three times', () => outages.length >= 3, 60_000);
        } finally {
          cluster.resume();
        }
        await until('every message on the replica', async () => (await count()) === 30 && (await count({ name: { $like: '% r2' } })) === 10, 60_000, 100);
        assert.equal(failures, [], 'messages failed (and spent an attempt) during the outage');
        if (fixture.admin?.includes('deadLetters') && transport.deadLetters) assert.equal(await transport.deadLetters(cqrsId), [], 'messages were dead-lettered');
      } finally {
        await consumer?.stop();
        await orm?.close();
        cluster.stop();
      }
    }),
  };
}
