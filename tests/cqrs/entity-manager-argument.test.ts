import 'reflect-metadata';
import {
  diffMaster, diffReplica, diffSync, dumpMaster, EntitySync, installOutbox, installReplica, loadReplica, OutboxRelay, ReplicaApplier,
  ReplicaConsumer, setCorrelationId, syncMaster,
} from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RepairPrice, RepairPriceCopy } from './repair-entities.js';

// Every CQRS function and class takes the EntityManager first, as the graph functions do, and
// refuses anything else by name (INVALID_OPTION) before it touches a database.

const noLines = (async function* () {})();
const transport = new MemoryTransport();
const CALLS: [string, (em: never) => unknown][] = [
  ['installOutbox', (em) => installOutbox(em)],
  ['setCorrelationId', (em) => setCorrelationId(em, 'request-1')],
  ['OutboxRelay', (em) => new OutboxRelay(em, transport)],
  ['installReplica', (em) => installReplica(em)],
  ['ReplicaApplier', (em) => new ReplicaApplier(em)],
  ['ReplicaConsumer', (em) => new ReplicaConsumer(em, transport, { queue: 'q' })],
  ['dumpMaster', (em) => dumpMaster(em, { cqrsId: 'repair-price' })],
  ['loadReplica', (em) => loadReplica(em, noLines)],
  ['syncMaster', (em) => syncMaster(em, transport, { cqrsId: 'repair-price' })],
  ['diffMaster', (em) => diffMaster(em, { cqrsId: 'repair-price' })],
  ['diffReplica', (em) => diffReplica(em, noLines)],
  ['diffSync', (em) => diffSync(em, transport, noLines)],
];

// a call that throws at once, or a promise that rejects
async function failure(call: () => unknown): Promise<{ code?: string; message: string }> {
  try {
    await call();
  } catch (error) {
    return error as { code?: string; message: string };
  }
  throw new Error('the call succeeded');
}

const backend = testBackends()[0]!;
const test = suite(`CQRS functions take the EntityManager first [${backend.name}]`);
let orm: MikroORM;

test.before(async () => {
  orm = await backend.createOrm({ entities: [RepairPrice, RepairPriceCopy], extensions: [EntitySync] });
});

test.after(async () => {
  await orm?.close();
});

test('a missing em, the MikroORM instance, or an options object in its place is INVALID_OPTION naming the call', async () => {
  for (const [name, call] of CALLS) {
    for (const [given, expected] of [
      [undefined, "argument 'em' is missing"],
      [orm, 'That is the MikroORM instance: pass orm.em.fork()'],
      [{ em: orm.em.fork() }, 'The EntityManager goes first, the options last'],
    ] as const) {
      const error = await failure(() => call(given as never));
      assert.is(error.code, 'INVALID_OPTION', `${name}: ${error.message}`);
      assert.match(error.message, `${name}: argument 'em' is`);
      assert.match(error.message, expected);
    }
  }
});

test('with an EntityManager the same calls go ahead', async () => {
  const em = orm.em.fork();
  assert.equal(await installOutbox(em), ['repair-price']);
  await installReplica(orm.em.fork());
  assert.equal(await new OutboxRelay(orm.em.fork(), transport).relayPending(), { relayed: 0 });
  assert.equal(await syncMaster(orm.em.fork(), transport, { cqrsId: 'repair-price' }), { published: 0 });
});

test.run();
