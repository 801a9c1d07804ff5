// A master and a replica as separate processes with separate PostgreSQL databases, replicating
// through real RabbitMQ: the relay and the consumer are the `entity-sync cqrs` commands, and
// the faults are real (SIGKILL, a broker outage, duplicated and reordered deliveries).
import 'reflect-metadata';
import { EntitySync, installOutbox, installReplica } from '@entity-sync/adapters/mikro-orm';
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import type { CqrsMessage } from '@entity-sync/core';
import { getBackend, rabbitMqAvailable, rabbitMqBroker, testBackends, type RabbitMqBroker } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { killAfter, SERVER_DEADLINE_MS } from '../support/child-deadline.js';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Author, libraryEntities } from '../../examples/library/src/index.js';
import { AuthorReplica } from './fixtures/replica-entities.js';
// not public API: this test builds the messages of the outbox itself, to deliver each twice and in reverse order
import { MasterMessages } from '../../packages/adapters/src/mikro-orm/cqrs/master/master-messages.js';

// spawned processes compile the repository's TypeScript files only (scripts/test-harness/ts-hooks.mjs); under the
// test runner import.meta.url is file:////..., whose path would start with //
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = join(root, 'tests/cqrs/fixtures');
const QUEUE = 'e2e-replica';

interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

function start(script: string, args: string[], env: Record<string, string>): Proc {
  return track(spawn(process.execPath, ['--import', TS_REGISTER, script, ...args],
    { cwd: root, env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json'), ...env } }));
}

// A shell pipeline, as a user would type it across two machines' terminals.
function shell(command: string, env: Record<string, string>): Proc {
  return track(spawn('/bin/sh', ['-c', command], { cwd: root, env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json'), ...env } }));
}

function track(child: ChildProcess): Proc {
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  // relays and consumers run until a test stops them; none may outlive the longest test
  killAfter(child, SERVER_DEADLINE_MS, `process ${child.spawnargs.slice(-4).join(' ')}`, () => ({ stdout, stderr }), (error) => console.error(error.message));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => {
    running.delete(child);
    resolve({ code, signal });
  }));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

const cli = (config: string, args: string[], env: Record<string, string>) =>
  start(join(root, 'packages/cli/bin/entity-sync.js'), ['--config', join(fixtures, config), 'cqrs', ...args], env);

async function finished(proc: Proc): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return proc.exited;
}

// Messages a running consumer has handled, from its latest progress line.
function handled(proc: Proc): number {
  const lines = [...proc.stderr().matchAll(/consume: applied (\d+) .*?duplicates (\d+), stale (\d+), gaps \d+, failed (\d+)/g)];
  const last = lines.at(-1);
  return last ? Number(last[1]) + Number(last[2]) + Number(last[3]) + Number(last[4]) : 0;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const rows = <T>(orm: MikroORM, sql: string) => orm.em.getConnection().execute<T[]>(sql);

async function masterRows(master: MikroORM): Promise<string[]> {
  return (await rows<{ r: string }>(master, `select id || '|' || name || '|' || lower(email) as r from author order by id`)).map((row) => row.r);
}

async function replicaRows(replica: MikroORM): Promise<string[]> {
  return (await rows<{ r: string }>(replica, `select id || '|' || name || '|' || contact as r from author_replica order by id`)).map((row) => row.r);
}

async function unsent(master: MikroORM): Promise<number> {
  return Number((await rows<{ n: number }>(master, `select count(*)::int as n from entity_sync_outbox where sent_at is null`))[0]!.n);
}

// Every revision the replica applied, in the order it applied them: a trigger on the revision
// table appends old -> new, so "never twice, never after a newer one" is checkable afterwards.
async function installAudit(replica: MikroORM): Promise<void> {
  await replica.em.getConnection().execute(`
    create table applied_audit (n bigserial primary key, key jsonb, old_revision bigint, new_revision bigint, deleted boolean);
    create function audit_applied() returns trigger language plpgsql as $$ begin
      insert into applied_audit (key, old_revision, new_revision, deleted) values (new.key, old.revision, new.revision, new.deleted);
      return null; end $$;
    create trigger audit_applied after update on entity_sync_replica_state for each row execute function audit_applied();`);
}

async function auditViolations(replica: MikroORM): Promise<string[]> {
  return (await rows<{ r: string }>(replica,
    `select key::text || ': ' || old_revision || ' -> ' || new_revision as r from applied_audit where new_revision <= old_revision order by n`)).map((row) => row.r);
}

// A burst of mixed creates, updates and deletes in transactions of several sizes, with a
// rolled-back transaction and a rolled-back savepoint in the middle (which must publish nothing).
async function burst(master: MikroORM, tag: string, size: number): Promise<void> {
  const em = master.em.fork();
  const created: Author[] = [];
  for (let i = 0; i < size; i++) {
    const author = em.create(Author, { name: `${tag}-${i}`, email: `${tag}-${i}@Example.org` });
    created.push(author);
    if (i % 7 === 6) await em.flush();
  }
  await em.flush();
  for (const [i, author] of created.entries()) {
    if (i % 3 === 0) author.name = `${author.name}-renamed`;
    if (i % 5 === 0) author.email = `${tag}-${i}@Changed.org`;
    if (i % 4 === 1) await em.flush();
  }
  await em.flush();
  em.remove(created.filter((_, i) => i % 6 === 2));
  await em.flush();
  await em.transactional(async (tx) => {
    const doomed = tx.create(Author, { name: `${tag}-rolled-back`, email: `${tag}-rb@example.org` });
    await tx.flush();
    tx.remove(doomed);
    throw new Error('roll back');
  }).catch(() => undefined);
  await master.em.fork().transactional(async (tx) => {
    await tx.getConnection().execute(`savepoint sp`, [], 'run', tx.getTransactionContext());
    await tx.getConnection().execute(`update author set name = 'savepoint' where id = ${created[0]!.id}`, [], 'run', tx.getTransactionContext());
    await tx.getConnection().execute(`rollback to savepoint sp`, [], 'run', tx.getTransactionContext());
  });
}

if (testBackends().some((backend) => backend.name === 'postgres') && rabbitMqAvailable()) {
  const test = suite('CQRS end to end: master and replica processes over PostgreSQL and RabbitMQ');
  let broker: RabbitMqBroker;
  let master: MikroORM;
  let replica: MikroORM;
  let env: Record<string, string>;
  let consumer: Proc | undefined;

  const startConsumer = (extra: Record<string, string> = {}, transportOptions: string[] = []) => {
    consumer = cli('replica.config.ts', [...transportOptions, 'consume', '--workers', '2', '--report-every', '1', '--json'], { ...env, ...extra });
    return consumer;
  };
  const stopConsumer = async () => {
    if (!consumer) return undefined;
    consumer.child.kill('SIGTERM');
    const exit = await finished(consumer);
    const stats = consumer.stdout().trim() ? JSON.parse(consumer.stdout().trim().split('\n').pop()!) : undefined;
    consumer = undefined;
    return { exit, stats };
  };
  const relayOnce = async () => {
    const relay = cli('master.config.ts', ['relay', '--once'], env);
    const exit = await finished(relay);
    assert.is(exit.code, 0, relay.stderr());
  };
  const converged = () => waitFor('the replica to equal the master', async () =>
    JSON.stringify(await masterRows(master)) === JSON.stringify(await replicaRows(replica)));

  test.before(async () => {
    broker = await rabbitMqBroker();
    const backend = getBackend('postgres');
    master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    replica = await backend.createOrm({ entities: [AuthorReplica], extensions: [EntitySync] });
    await installOutbox(master.em.fork());
    await installReplica(replica.em.fork());
    await installAudit(replica);
    env = { ES_MASTER_URL: master.config.get('clientUrl')!, ES_REPLICA_URL: replica.config.get('clientUrl')!, ENTITY_SYNC_TRANSPORT: broker.url };
    const install = cli('replica.config.ts', ['install'], env);
    const exit = await finished(install);
    assert.is(exit.code, 0, install.stderr());
    assert.match(install.stdout(), `declared queue ${QUEUE} on amqp://***@127.0.0.1:${new URL(broker.url).port}, bound to author`);
  });

  test('install without a transport declares no queue and says so, and how to declare it', async () => {
    const install = cli('replica.config.ts', ['install'], { ...env, ENTITY_SYNC_TRANSPORT: '' });
    const exit = await finished(install);
    assert.is(exit.code, 0, install.stderr());
    assert.match(install.stdout(), 'queue not declared: no transport given. Pass --transport <url> (or set ENTITY_SYNC_TRANSPORT, or export a transport factory from the config)');
    assert.not.match(install.stdout(), 'declared queue');
  });

  test.after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await master?.close();
    await replica?.close();
  });

  test('a burst of creates, updates and deletes reaches the replica process row for row; rollbacks publish nothing', async () => {
    startConsumer();
    const relay = cli('master.config.ts', ['relay', '--poll', '5000'], env);
    await waitFor('the relay to listen', async () => relay.stderr().includes('relay: running'));
    await burst(master, 'burst', 120);
    await converged();
    assert.ok((await masterRows(master)).length >= 90);
    const outbox = await rows<{ n: number }>(master, `select count(*)::int as n from entity_sync_outbox where state->>'name' in ('burst-rolled-back', 'savepoint') or previous->>'name' = 'savepoint'`);
    assert.is(outbox[0]!.n, 0, 'rolled-back work left outbox entries');
    relay.child.kill('SIGTERM');
    const relayExit = await finished(relay);
    assert.is(relayExit.code, 0, relay.stderr());
    assert.match(relay.stdout(), /relayed \d+ outbox entries/);
    const { exit, stats } = (await stopConsumer())!;
    assert.is(exit.code, 0);
    assert.is(stats.failed, 0);
    assert.ok(stats.applied > 0);
    assert.equal(await auditViolations(replica), []);
  });

  test('a relay killed between publish and mark publishes again; the replica drops the duplicates', async () => {
    await burst(master, 'killed-relay', 30);
    const pending = await unsent(master);
    assert.ok(pending > 0);
    const crashing = start(join(fixtures, 'relay-crash.ts'), [], env);
    const crash = await finished(crashing);
    assert.is(crash.signal, 'SIGKILL', crashing.stderr());
    assert.match(crashing.stdout(), `published ${pending}`);
    assert.is(await unsent(master), pending, 'the killed relay marked entries sent');

    startConsumer();
    await relayOnce();
    assert.is(await unsent(master), 0);
    await converged();
    await waitFor('both copies of every message to be handled', async () => handled(consumer!) === 2 * pending);
    const { stats } = (await stopConsumer())!;
    assert.ok(stats.applied <= pending, `a change was applied twice: ${JSON.stringify(stats)}`);
    assert.is(stats.applied + stats.duplicates + stats.stale, 2 * pending);
    assert.equal(await auditViolations(replica), []);
  });

  test('a consumer killed in the middle of applying leaves nothing half-applied; a new one applies the message once', async () => {
    const em = master.em.fork();
    const victim = em.create(Author, { name: 'victim', email: 'victim@example.org' });
    await em.flush();
    await relayOnce();
    startConsumer();
    await converged();
    await stopConsumer();

    victim.name = 'crash-me';
    await em.flush();
    await relayOnce();
    const crashing = startConsumer({ ES_CRASH_ON_NAME: 'crash-me' });
    const exit = await finished(crashing);
    consumer = undefined;
    assert.is(exit.signal, 'SIGKILL');
    const [row] = await rows<{ name: string }>(replica, `select name from author_replica where id = ${victim.id}`);
    assert.is(row!.name, 'victim', 'the killed apply left a change behind');

    startConsumer();
    await converged();
    const { stats } = (await stopConsumer())!;
    assert.is(stats.applied, 1);
    assert.equal(await auditViolations(replica), []);
  });

  test('the broker stopped and restarted: relay and consumer reconnect and nothing is lost or applied out of order', async () => {
    startConsumer();
    const relay = cli('master.config.ts', ['relay', '--poll', '500'], env);
    await waitFor('the relay to listen', async () => relay.stderr().includes('relay: running'));
    await burst(master, 'before-outage', 20);
    await converged();

    await broker.stop();
    await burst(master, 'during-outage', 20);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(await unsent(master) > 0, 'nothing waited in the outbox during the outage');
    await broker.resume();
    await burst(master, 'after-outage', 20);
    await converged();
    assert.is(await unsent(master), 0);

    relay.child.kill('SIGTERM');
    assert.is((await finished(relay)).code, 0, relay.stderr());
    const { stats } = (await stopConsumer())!;
    assert.is(stats.failed, 0);
    assert.equal(await auditViolations(replica), []);
  });

  test('messages delivered twice and in reverse order: the replica ends equal to the master, each revision applied once', async () => {
    const em = master.em.fork();
    const authors = [1, 2, 3, 4, 5].map((i) => em.create(Author, { name: `shuffled-${i}`, email: `shuffled-${i}@example.org` }));
    await em.flush();
    for (let round = 1; round <= 3; round++) {
      for (const author of authors) author.name = `shuffled-${author.id}-round-${round}`;
      await em.flush();
    }
    em.remove(authors[4]!);
    await em.flush();
    // publish the outbox by hand, every message twice and the batch reversed, then mark it sent
    const outbox = await rows<{ id: string; cqrs_id: string; key: unknown[]; operation: 'save' | 'delete'; revision: string; state: Record<string, unknown> | null; created_at: string }>(master,
      `select id::text, cqrs_id, key, operation, revision::text, state, created_at::text from entity_sync_outbox where sent_at is null order by id`);
    const builder = new MasterMessages(master.em.fork());
    const messages: CqrsMessage[] = [];
    for (const row of outbox) {
      const message = await builder.toMessage({ cqrsId: row.cqrs_id, key: row.key, operation: row.operation, revision: Number(row.revision), state: row.state, createdAt: new Date(row.created_at).toISOString() });
      if (message) messages.push(message, message);
    }
    const transport = new RabbitMqTransport({ url: broker.url });
    await transport.publish(messages.reverse());
    await transport.close();
    await rows(master, `update entity_sync_outbox set sent_at = now() where sent_at is null`);

    startConsumer();
    await converged();
    await waitFor('every delivery to be handled', async () => handled(consumer!) === messages.length);
    const { stats } = (await stopConsumer())!;
    assert.ok(stats.applied <= outbox.length, `a change was applied twice: ${JSON.stringify(stats)}`);
    assert.ok(stats.duplicates + stats.stale >= outbox.length, JSON.stringify(stats));
    assert.equal(await auditViolations(replica), []);
  });

  test('a poison message is retried as often as --max-attempts says, dead-lettered, listed, and replayed once the replica is fixed', async () => {
    const em = master.em.fork();
    const poison = em.create(Author, { name: 'poison', email: 'poison@example.org' });
    await em.flush();
    await relayOnce();
    startConsumer({ ES_POISON_NAME: 'poison' }, ['--max-attempts', '3', '--retry-delay', '50']);
    const letters = async () => {
      const run = cli('replica.config.ts', ['dead-letters', '--queue', QUEUE, '--json'], env);
      await finished(run);
      return JSON.parse(run.stdout()) as { message: CqrsMessage; attempts: number; error: string }[];
    };
    await waitFor('the poison message to be dead-lettered', async () => (await letters()).length === 1, 30_000);
    const [letter] = await letters();
    assert.equal(letter!.message.key, [poison.id]);
    assert.is(letter!.attempts, 3);
    assert.match(letter!.error, 'replica cannot handle the name poison');
    assert.is((await rows(replica, `select 1 from author_replica where id = ${poison.id}`)).length, 0);
    await stopConsumer();

    startConsumer();
    const retry = cli('replica.config.ts', ['dead-letters', '--queue', QUEUE, '--retry'], env);
    await finished(retry);
    assert.match(retry.stdout(), 'retried 1 dead letter(s)');
    await converged();
    assert.equal(await letters(), []);
    await stopConsumer();
    assert.equal(await auditViolations(replica), []);
  });

  test('repair across processes: dump | load into a new replica, sync by filter, and diff-master | diff-replica | diff-sync after drift', async () => {
    // drift: the replica loses a row, keeps a stale copy of another, gains one the master never had,
    // and misses a delete (the master's outbox entry is marked sent without being published)
    const em = master.em.fork();
    const [lost, stale, gone] = [0, 1, 2].map((i) => em.create(Author, { name: `drift-${i}`, email: `drift-${i}@example.org` }));
    await em.flush();
    await relayOnce();
    startConsumer();
    await converged();
    await stopConsumer();
    await rows(replica, `delete from author_replica where id = ${lost!.id}`);
    await rows(replica, `delete from entity_sync_replica_state where key = '[${lost!.id}]'`);
    await rows(replica, `update author_replica set name = 'outdated' where id = ${stale!.id}`);
    await rows(replica, `update entity_sync_replica_state set revision = 0 where key = '[${stale!.id}]'`);
    await rows(replica, `insert into author_replica (id, name, contact) values (999999, 'extra', 'extra@example.org')`);
    em.remove(gone!);
    await em.flush();
    await rows(master, `update entity_sync_outbox set sent_at = now() where sent_at is null`);
    assert.not.equal(await replicaRows(replica), await masterRows(master));

    const node = `'${process.execPath}' --import '${TS_REGISTER}' '${join(root, 'packages/cli/bin/entity-sync.js')}'`;
    const side = (config: string) => `${node} --config '${join(fixtures, config)}' cqrs`;
    const pipeline = `${side('master.config.ts')} diff-master --id author | ${side('replica.config.ts')} diff-replica | ${side('master.config.ts')} diff-sync --json`;
    const diff = shell(pipeline, env);
    assert.is((await finished(diff)).code, 0, diff.stderr());
    assert.equal(JSON.parse(diff.stdout()), { republished: 2, deleted: 2 }, diff.stderr());

    startConsumer();
    await converged();
    await stopConsumer();
    const again = shell(`${side('master.config.ts')} diff-master --id author | ${side('replica.config.ts')} diff-replica`, env);
    await finished(again);
    const report = again.stdout().trim().split('\n');
    assert.is(report.length, 2, `the second diff found differences: ${again.stdout()}`);
    assert.match(report[1]!, '"missing":0');

    // a bulk copy without the transport, into a replica database of its own
    const fresh = await getBackend('postgres').createOrm({ entities: [AuthorReplica], extensions: [EntitySync] });
    try {
      const file = join(tmpdir(), `entity-sync-e2e-${process.pid}.ndjson`);
      const dump = cli('master.config.ts', ['dump', '--id', 'author', '-o', file], env);
      assert.is((await finished(dump)).code, 0, dump.stderr());
      const load = cli('replica.config.ts', ['load', '-i', file, '--json'], { ...env, ES_REPLICA_URL: fresh.config.get('clientUrl')! });
      assert.is((await finished(load)).code, 0, load.stderr());
      assert.is(JSON.parse(load.stdout()).applied, (await masterRows(master)).length);
      assert.equal(await replicaRows(fresh), await masterRows(master));

      // sync by filter to one queue: the consumer re-applies exactly that row (sync applies at an equal revision)
      const sync = cli('master.config.ts', ['sync', '--id', 'author', '--filter', JSON.stringify({ id: { $in: [stale!.id] } }), '--queue', QUEUE], env);
      assert.is((await finished(sync)).code, 0, sync.stderr());
      assert.match(sync.stdout(), `published 1 sync message(s) to ${QUEUE}`);
      startConsumer();
      await waitFor('the sync message to be applied', async () => handled(consumer!) === 1);
      const { stats } = (await stopConsumer())!;
      assert.is(stats.applied, 1);
    } finally {
      await fresh.close();
      rmSync(join(tmpdir(), `entity-sync-e2e-${process.pid}.ndjson`), { force: true });
    }
  });

  test.run();
}
