// Quorum queues on a three-node RabbitMQ cluster: a relay streams a real PostgreSQL master's
// changes and a replica consumer applies them while the node both are connected to, which also
// leads the replica service's queue, is killed with SIGKILL. Both move to a surviving node, and
// the replica ends equal to the master with every revision applied once, in order.
import 'reflect-metadata';
import { EntitySync, installOutbox, installReplica, OutboxRelay, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import { CQRS_MESSAGE_VERSION, isEntitySyncError, type CqrsMessage, type RevisionVerdict } from '@entity-sync/core';
import { getBackend, rabbitMqAvailable, RabbitMqCluster, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHILD_DEADLINE_MS } from '../support/child-deadline.js';
import { until } from '../support/until.js';
import { Author, libraryEntities } from '../../examples/library/src/index.js';
import { AuthorReplica } from './fixtures/replica-entities.js';

// spawned processes compile the repository's TypeScript files only (scripts/test-harness/ts-hooks.mjs); under the
// test runner import.meta.url is file:////..., whose path would start with //
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');

const root = fileURLToPath(new URL('../..', import.meta.url));
const QUEUE = 'quorum-replica';

const rows = <T>(orm: MikroORM, sql: string) => orm.em.getConnection().execute<T[]>(sql);

async function masterRows(master: MikroORM): Promise<string[]> {
  return (await rows<{ r: string }>(master, `select id || '|' || name || '|' || lower(email) as r from author order by id`)).map((row) => row.r);
}

async function replicaRows(replica: MikroORM): Promise<string[]> {
  return (await rows<{ r: string }>(replica, `select id || '|' || name || '|' || contact as r from author_replica order by id`)).map((row) => row.r);
}

interface Verdict {
  key: string;
  revision: number;
  outcome: RevisionVerdict | 'failed';
  createdAt: number;
}

// What the revision guard's verdicts show went wrong: a skipped revision (`gap`), a revision applied
// twice or after a newer one, a duplicate of a revision never delivered before, a failed apply.
// (`stale` changes nothing: a late redelivery, or a revision a newer one in the same batch replaced.)
function verdictViolations(verdicts: Verdict[]): string[] {
  const applied = new Map<string, number>();
  const delivered = new Set<string>();
  const violations: string[] = [];
  for (const { key, revision, outcome } of verdicts) {
    const id = `${key}@${revision}`;
    if (outcome === 'gap' || outcome === 'failed') violations.push(`${id}: ${outcome}`);
    if (outcome === 'apply' || outcome === 'gap') {
      if ((applied.get(key) ?? 0) >= revision) violations.push(`${id}: applied after revision ${applied.get(key)}`);
      applied.set(key, revision);
    }
    if (outcome === 'duplicate' && !delivered.has(id)) violations.push(`${id}: a duplicate of a revision never delivered`);
    delivered.add(id);
  }
  return violations;
}

if (testBackends().some((backend) => backend.name === 'postgres') && rabbitMqAvailable()) {
  const test = suite('RabbitMQ quorum queues on a three-node cluster');
  let cluster: RabbitMqCluster;
  let master: MikroORM;
  let replica: MikroORM;

  test.before(async () => {
    const backend = getBackend('postgres');
    [cluster, master, replica] = await Promise.all([
      RabbitMqCluster.start(3),
      backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] }),
      backend.createOrm({ entities: [AuthorReplica], extensions: [EntitySync] }),
    ]);
    await installOutbox(master.em.fork());
    await installReplica(replica.em.fork());
    // the replica service's queues, declared the way a user would: the CLI with a cluster URL
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', TS_REGISTER,
      join(root, 'packages/cli/bin/entity-sync.js'), '--config', join(root, 'tests/cqrs/fixtures/replica.config.ts'),
      'cqrs', '--transport', `${cluster.url}?queueType=quorum`, 'install', '--queue', QUEUE],
    { cwd: root, timeout: CHILD_DEADLINE_MS, env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json'), ES_REPLICA_URL: replica.config.get('clientUrl')! } });
    assert.match(stdout, new RegExp(`declared queue ${QUEUE} on amqp:\\/\\/\\*\\*\\*@\\S+, bound to author`));
  });

  test.after(async () => {
    cluster?.remove();
    await master?.close();
    await replica?.close();
  });

  test('the node the relay and the consumer are connected to, leader of the queue, is killed mid-stream: both carry on against the survivors, nothing is lost, applied twice or out of order', async () => {
    const [first, ...survivors] = cluster.nodes;
    const relayErrors: unknown[] = [];
    const consumerErrors: unknown[] = [];
    // the relay gets the node list, the consumer the one-URL form with comma-separated hosts
    const publishing = new RabbitMqTransport({ url: cluster.urls, queueType: 'quorum', reconnectDelayMs: 100, onError: (error) => void relayErrors.push(error) });
    const consuming = new RabbitMqTransport({ url: cluster.url, queueType: 'quorum', reconnectDelayMs: 100, prefetch: 200, concurrency: 50,
      onError: (error) => void consumerErrors.push(error) });
    const verdicts: Verdict[] = [];
    const consumer = new ReplicaConsumer(replica.em.fork(), consuming, {
      queue: QUEUE,
      onMessage: (message: CqrsMessage, outcome) => void verdicts.push({
        key: JSON.stringify(message.key), revision: message.revision, outcome: outcome instanceof Error ? 'failed' : outcome, createdAt: Date.parse(message.createdAt),
      }),
    });
    const relay = new OutboxRelay(master.em.fork(), publishing, { pollMs: 200, onError: (error) => void relayErrors.push(error) });

    // a steady stream: every commit creates an author and renames an earlier one; every tenth deletes one
    let writing = true;
    let commits = 0;
    const ids: number[] = [];
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const em = master.em.fork();
        const author = em.create(Author, { name: `quorum-${i}`, email: `quorum-${i}@Example.org` });
        if (ids.length > 3) (await em.findOneOrFail(Author, ids[ids.length - 3]!)).name = `quorum-renamed-${i}`;
        if (i % 10 === 9) em.remove(await em.findOneOrFail(Author, ids.splice(ids.length - 5, 1)[0]!));
        await em.flush();
        ids.push(author.id);
        commits += 1;
        await sleep(5);
      }
    })();

    const unsent = async () => Number((await rows<{ n: number }>(master, `select count(*)::int as n from entity_sync_outbox`))[0]!.n);
    // what a failure message shows: where the stream stopped
    const diagnosis = async () => JSON.stringify({
      masterRows: (await masterRows(master)).length, replicaRows: (await replicaRows(replica)).length, unsent: await unsent(), stats: consumer.stats(),
      queues: cluster.queues(survivors[0]).map((queue) => `${queue.name}: ${queue.messages} (leader ${queue.leader})`),
      relayErrors: relayErrors.slice(-5).map(String), consumerErrors: consumerErrors.slice(-5).map(String),
    }, null, 1);
    try {
      await consumer.start();
      await relay.start();
      await until('the stream to reach the replica', () => verdicts.length >= 100, 30_000);

      // the node that matters: both clients are connected to it, and it leads the queue
      const leader = cluster.queues(first).find((queue) => queue.name === QUEUE)?.leader;
      assert.is(leader, first!.nodeName, `the queue's leader is ${leader}, not the first node`);
      assert.equal([...new Set(cluster.connectedPorts(first))], [first!.port], 'a client is not connected to the first node');

      const commitsAtKill = commits;
      const killedAt = Date.now();
      await first!.kill();
      await until('100 commits after the kill', () => commits >= commitsAtKill + 100, 60_000);
      writing = false;
      await writer;
      await until('the replica to equal the master', async () => JSON.stringify(await replicaRows(replica)) === JSON.stringify(await masterRows(master)), 60_000, 200)
        .catch(async (error: Error) => {
          throw new Error(`${error.message}: ${await diagnosis()}`);
        });
      await until('the outbox to empty', async () => await unsent() === 0, 30_000, 200);

      assert.ok(relayErrors.length > 0 && consumerErrors.length > 0, 'the kill did not reach both connections');
      assert.ok(verdicts.filter((v) => v.createdAt > killedAt && v.outcome === 'apply').length >= commits - commitsAtKill,
        'the changes committed after the kill did not all arrive');
      assert.equal(verdictViolations(verdicts), []);
      const stats = consumer.stats();
      assert.is(stats.gaps, 0);
      assert.is(stats.failed, 0);
      assert.equal(cluster.connectedPorts(survivors[0]).filter((port) => !survivors.some((node) => node.port === port)), [],
        'a client is connected to the killed node');
      assert.is(cluster.connectedPorts(survivors[0]).length, 2, 'the relay and the consumer are not both connected to a survivor');

      const queues = cluster.queues(survivors[0]).filter((queue) => queue.name.startsWith(QUEUE) || queue.name === 'entity_sync.unroutable');
      assert.equal(queues.map((queue) => queue.name).sort(),
        [QUEUE, `${QUEUE}.dead`, `${QUEUE}.retry.1600ms`, `${QUEUE}.retry.200ms`, `${QUEUE}.retry.400ms`, `${QUEUE}.retry.800ms`, 'entity_sync.unroutable'].sort());
      assert.equal(queues.filter((queue) => queue.type !== 'quorum').map((queue) => `${queue.name}: ${queue.type}`), []);
      assert.equal(queues.find((queue) => queue.name === QUEUE)!.members.sort(), cluster.nodes.map((node) => node.nodeName).sort());
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      await relay.stop();
      await consumer.stop();
      await publishing.close();
      await consuming.close();
    }
  });

  test('a queue that exists as a classic queue is not taken for a quorum one: declaring it fails typed, naming the queue', async () => {
    // exchanges of their own, so that each one's unroutable queue is of its own type
    const classic = new RabbitMqTransport({ url: cluster.urls, exchange: 'mismatch_classic' });
    const quorum = new RabbitMqTransport({ url: cluster.urls, exchange: 'mismatch_quorum', queueType: 'quorum', onError: () => {} });
    try {
      await classic.declareQueue('quorum-classic', ['author']);
      const refused = await quorum.declareQueue('quorum-classic', ['author']).then(() => undefined, (error: unknown) => error);
      assert.ok(isEntitySyncError(refused, 'TRANSPORT_REFUSED'), String(refused));
      assert.match((refused as Error).message, "queue 'quorum-classic' exists with other arguments");
      assert.match((refused as Error).message, 'list_queues name type');
      assert.is(cluster.queues().find((queue) => queue.name === 'quorum-classic')?.type, 'classic');
    } finally {
      await classic.close();
      await quorum.close();
    }
  });

  test.run();
}

const options = suite('RabbitMQ transport options for a cluster');

options('a URL with comma-separated hosts stands for one node each, tried in turn; the error names every node, without the password', async () => {
  const transport = new RabbitMqTransport({ url: 'amqp://guest:secret@127.0.0.1:1,127.0.0.1:2/vhost', connectTimeoutMs: 2000 });
  const down = await transport.publish([{ version: CQRS_MESSAGE_VERSION, id: 'a/1', cqrsId: 'author', operation: 'save', key: [1], revision: 1, state: { id: 1 }, createdAt: new Date().toISOString() }])
    .then(() => undefined, (error: unknown) => error);
  await transport.close();
  assert.ok(isEntitySyncError(down, 'TRANSPORT_UNAVAILABLE'), String(down));
  const message = (down as Error).message;
  assert.match(message, 'any of its 2 nodes');
  assert.match(message, 'amqp://guest:***@127.0.0.1:1/vhost');
  assert.match(message, 'amqp://guest:***@127.0.0.1:2/vhost');
  assert.not.match(message, 'secret');
});

options('a URL that is no AMQP URL and an unknown queue type are refused at once, typed', () => {
  const thrown = (make: () => unknown) => {
    try {
      make();
    } catch (error) {
      return error;
    }
    return undefined;
  };
  const badUrl = thrown(() => new RabbitMqTransport({ url: ['amqp://127.0.0.1:1', 'http://127.0.0.1:2'] }));
  assert.ok(isEntitySyncError(badUrl, 'INVALID_OPTION'), String(badUrl));
  assert.match((badUrl as Error).message, "option 'url'");
  const badType = thrown(() => new RabbitMqTransport({ url: 'amqp://127.0.0.1:1', queueType: 'mirrored' as never }));
  assert.ok(isEntitySyncError(badType, 'INVALID_OPTION'), String(badType));
  assert.match((badType as Error).message, "'classic' or 'quorum'");
});

options.run();
