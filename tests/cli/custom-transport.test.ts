import 'reflect-metadata';
import { pgClient, PostgresTransport } from '@entity-sync/adapters/postgres';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { getBackend, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RepairPrice, RepairPriceCopy } from '../cqrs/repair-entities.js';
import { CHILD_DEADLINE_MS, killAfter } from '../support/child-deadline.js';
import { until } from '../support/until.js';

// spawned processes compile the repository's TypeScript files only (scripts/test-harness/ts-hooks.mjs); under the
// test runner import.meta.url is file:////..., whose path would start with //
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');

// A transport of the app's own, exported as a factory from the config module, carries the cqrs
// commands: install declares its queue, relay publishes through it, consume applies from it with
// the command line's retry settings, and dead-letters lists, retries and purges its dead letters.

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = join(root, 'tests/cli/fixtures');
const QUEUE = 'custom-cli';

interface Run { code: number | null; stdout: string; stderr: string }
interface Running { done: Promise<Run>; stop(): void }

/** Starts `entity-sync --config <fixture> cqrs ...args`; `stop` sends SIGTERM. */
function start(config: string, args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, ['--import', TS_REGISTER, join(root, 'packages/cli/bin/entity-sync.js'),
    '--config', join(fixtures, config), 'cqrs', ...args], {
    cwd: root,
    env: { ...withoutTransportEnv(process.env), SWC_NODE_PROJECT: join(root, 'tsconfig.json'), ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<Run>((resolve, reject) => {
    killAfter(child, CHILD_DEADLINE_MS, `entity-sync cqrs ${args.join(' ')}`, () => ({ stdout, stderr }), reject);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { done, stop: () => child.kill('SIGTERM') };
}

const cli = (config: string, args: string[], env: Record<string, string>) => start(config, args, env).done;

function withoutTransportEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const { ENTITY_SYNC_TRANSPORT: _, ...rest } = env;
  return rest as Record<string, string>;
}

if (testBackends().some((backend) => backend.name === 'postgres')) {
  const test = suite('entity-sync cqrs with a transport from the config module [postgres]');
  let master: MikroORM;
  let replica: MikroORM;
  let env: Record<string, string>;
  let pool: pg.Pool;
  let observer: PostgresTransport;

  test.before(async () => {
    const backend = getBackend('postgres');
    master = await backend.createOrm({ entities: [RepairPrice], extensions: [EntitySync] });
    replica = await backend.createOrm({ entities: [RepairPriceCopy], extensions: [EntitySync] });
    env = { ES_MASTER_URL: master.config.get('clientUrl')!, ES_REPLICA_URL: replica.config.get('clientUrl')!, ES_CUSTOM_TRANSPORT_URL: master.config.get('clientUrl')! };
    pool = new pg.Pool({ connectionString: env.ES_CUSTOM_TRANSPORT_URL, max: 2 });
    observer = new PostgresTransport(pgClient(pool));
  });

  test.after(async () => {
    await observer?.close();
    await pool?.end();
    await master?.close();
    await replica?.close();
  });

  test('install, relay, consume and dead-letters run on the factory\'s transport, with the command line\'s retry settings', async () => {
    const installed = await cli('custom-replica.config.ts', ['install', '--queue', QUEUE], env);
    assert.is(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, `declared queue ${QUEUE} on the transport export of ${join(fixtures, 'custom-replica.config.ts')}, bound to repair-price`);
    assert.is(await observer.pending(QUEUE), 0, 'the queue exists on the transport');
    const masterInstalled = await cli('custom-master.config.ts', ['install'], env);
    assert.is(masterInstalled.code, 0, masterInstalled.stderr);

    // a row the replica's trigger refuses, between two it takes
    await replica.em.getConnection().execute(`
      create function refuse_poison() returns trigger language plpgsql as $$
      begin if new.label = 'Poison' then raise exception 'poison refused'; end if; return new; end $$;
      create trigger refuse_poison before insert on repair_price_copy for each row execute function refuse_poison();`);
    const em = master.em.fork();
    for (const [id, name] of [[1, 'First'], [2, 'Poison'], [3, 'Third']] as const) {
      em.create(RepairPrice, { id, name, note: `note ${id}`, code: `C${id}`, amount: `${id}.5`, validFrom: new Date(Date.UTC(2024, 0, id)), attributes: { id } });
    }
    await em.flush();

    const relayed = await cli('custom-master.config.ts', ['relay', '--once'], env);
    assert.is(relayed.code, 0, relayed.stderr);
    assert.match(relayed.stdout, 'relayed 3 outbox entries');
    assert.match(relayed.stderr, 'custom transport: opened');

    const labels = async () => (await replica.em.fork().find(RepairPriceCopy, {}, { orderBy: { id: 'asc' } })).map((row) => row.label);
    const consumer = start('custom-replica.config.ts', ['--max-attempts', '2', '--retry-delay', '10', 'consume', '--queue', QUEUE], env);
    await until('the good rows applied and the poison dead-lettered', async () =>
      (await labels()).length === 2 && (await observer.deadLetters(QUEUE)).length === 1, 60_000, 100);
    consumer.stop();
    const consumed = await consumer.done;
    assert.is(consumed.code, 0, consumed.stderr);
    assert.match(consumed.stderr, 'custom transport: opened with maxAttempts=2 retryDelayMs=10');
    assert.equal(await labels(), ['First', 'Third']);

    const listed = await cli('custom-replica.config.ts', ['dead-letters', '--queue', QUEUE, '--json'], env);
    assert.is(listed.code, 0, listed.stderr);
    const letters = JSON.parse(listed.stdout) as { message: { key: unknown[]; state: { name: string } } | null; attempts: number; error: string }[];
    assert.is(letters.length, 1, listed.stdout);
    assert.equal(letters[0]!.message?.key, [2]);
    assert.is(letters[0]!.attempts, 2, 'the command line\'s --max-attempts reached the transport');
    assert.match(letters[0]!.error, 'poison refused');

    await replica.em.getConnection().execute('drop trigger refuse_poison on repair_price_copy');
    const retried = await cli('custom-replica.config.ts', ['dead-letters', '--queue', QUEUE, '--retry'], env);
    assert.is(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, 'retried 1 dead letter(s)');
    const again = start('custom-replica.config.ts', ['consume', '--queue', QUEUE], env);
    await until('the retried row applied', async () => (await labels()).length === 3, 60_000, 100);
    again.stop();
    assert.is((await again.done).code, 0);
    assert.equal(await labels(), ['First', 'Poison', 'Third']);

    const purged = await cli('custom-replica.config.ts', ['dead-letters', '--queue', QUEUE, '--purge', '--json'], env);
    assert.is(purged.code, 0, purged.stderr);
    assert.equal(JSON.parse(purged.stdout), { purged: 0 });
  });

  test('a transport without the admin method a command needs is TRANSPORT_UNSUPPORTED, naming the method', async () => {
    const bare = { ...env, ES_CUSTOM_TRANSPORT: 'bare' };
    const listed = await cli('custom-replica.config.ts', ['dead-letters', '--queue', QUEUE, '--json'], bare);
    assert.is(listed.code, 1, listed.stderr);
    const { error } = JSON.parse(listed.stdout) as { error: { code: string; message: string; info: Record<string, unknown> } };
    assert.is(error.code, 'TRANSPORT_UNSUPPORTED');
    assert.match(error.message, `Cannot list the dead letters of ${QUEUE}: the transport export of ${join(fixtures, 'custom-replica.config.ts')} has no deadLetters()`);
    assert.is(error.info.method, 'deadLetters');

    const declared = await cli('custom-replica.config.ts', ['install', '--queue', QUEUE], bare);
    assert.is(declared.code, 1, declared.stderr);
    assert.match(declared.stderr, `error [TRANSPORT_UNSUPPORTED]: Cannot declare queue ${QUEUE}`);
    assert.match(declared.stderr, 'has no declareQueue()');
  });

  test('a transport export that is not a factory, or a factory that returns no transport, is CONFIG_INVALID', async () => {
    const number = await cli('custom-replica.config.ts', ['dead-letters', '--queue', QUEUE], { ...env, ES_CUSTOM_TRANSPORT: 'not-a-function' });
    assert.is(number.code, 1, number.stderr);
    assert.match(number.stderr, 'error [CONFIG_INVALID]: The transport export of');
    assert.match(number.stderr, 'is a number, not a function');
    const shapeless = await cli('custom-replica.config.ts', ['dead-letters', '--queue', QUEUE], { ...env, ES_CUSTOM_TRANSPORT: 'not-a-transport' });
    assert.is(shapeless.code, 1, shapeless.stderr);
    assert.match(shapeless.stderr, 'error [CONFIG_INVALID]');
    assert.match(shapeless.stderr, 'returned something that is not a Transport (no publish, subscribe, close)');
  });

  test('--transport and $ENTITY_SYNC_TRANSPORT take precedence over the config\'s factory; without any of the three the command says all three', async () => {
    const byFlag = await cli('custom-replica.config.ts', ['--transport', env.ES_CUSTOM_TRANSPORT_URL!, 'dead-letters', '--queue', QUEUE], env);
    assert.is(byFlag.code, 0, byFlag.stderr);
    assert.not.match(byFlag.stderr, 'custom transport: opened');
    const byEnv = await cli('custom-replica.config.ts', ['dead-letters', '--queue', QUEUE], { ...env, ENTITY_SYNC_TRANSPORT: env.ES_CUSTOM_TRANSPORT_URL! });
    assert.is(byEnv.code, 0, byEnv.stderr);
    assert.not.match(byEnv.stderr, 'custom transport: opened');

    const none = await cli('repair-replica.config.ts', ['dead-letters', '--queue', QUEUE], env);
    assert.is(none.code, 1, none.stderr);
    assert.match(none.stderr, 'error [USAGE]: No transport: pass --transport <url>');
    assert.match(none.stderr, 'set ENTITY_SYNC_TRANSPORT, or export a transport factory from the config module');
    assert.match(none.stderr, `${join(fixtures, 'repair-replica.config.ts')} exports none.`);
  });

  test.run();
}
