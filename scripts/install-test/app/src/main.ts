// A small app as a new user writes it from the README: export a graph and import it into
// another database, replicate one change from a master to a replica, then pull the writers
// (reference data, by natural key) from the first database over HTTP into a fourth, and sync the
// writers with a client of the push/pull API (a pull, a push, a pull that sees the push), which the
// audit trail and the sync log record, with the metrics, health and the admin page's sign-in served.
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/core';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpHandler, staticTokenAuth } from '@entity-sync/adapters/http';
import { toNodeListener } from '@entity-sync/adapters/http/node';
import {
  adminRoutes, auditTrail, createSyncMetrics, EntitySync, envSyncRoutes, exportGraph, healthRoutes, importGraph, installAudit, installOutbox, installPushPull, installReplica,
  fromEntity, metricsRoutes, OutboxRelay, pullFrom, pushPullRoutes, ReplicaConsumer, syncLog, type PulledChanges, type PushResult,
} from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { diff } from '@entity-sync/core';
import { Novel, Writer, WriterCopy } from './entities.js';
import { createSchema, pgliteOptions } from './orm.js';

const open = (entities: Function[], dir?: string) => MikroORM.init({ ...pgliteOptions(dir), entities, extensions: [EntitySync] });

const source = await open([Writer, Novel], process.env.APP_DB_DIR ?? './data');
await createSchema(source);
const em = source.em.fork();
const writer = em.create(Writer, { name: 'Ursula', email: 'ursula@example.com' });
em.create(Novel, { title: 'The Dispossessed', writer });
em.create(Novel, { title: 'The Lathe of Heaven', writer });
await em.flush();
await exportGraph(source.em.fork(), writer, { to: 'writer.json' });

const target = await open([Writer, Novel]);
await createSchema(target);
const report = await importGraph(target.em.fork(), 'writer.json');
const imported = await target.em.fork().count(Novel);

const replica = await open([WriterCopy]);
await createSchema(replica);
await installOutbox(source.em.fork());
await installReplica(replica.em.fork());
const transport = new MemoryTransport();
const consumer = new ReplicaConsumer(replica.em.fork(), transport, { queue: 'app' });
await consumer.start();
const master = source.em.fork();
(await master.findOneOrFail(Writer, { email: 'ursula@example.com' })).name = 'Ursula K. Le Guin';
await master.flush();
await new OutboxRelay(source.em.fork(), transport).relayPending();
await transport.drain();
const copy = await replica.em.fork().findOne(WriterCopy, { id: writer.id });
await consumer.stop();

const token = 'install-test-token-0123456789';
await installPushPull(source.em.fork(), { models: ['Writer'] });
await installAudit(source.em.fork(), { models: ['Writer'] });
const metrics = await createSyncMetrics(source);
const handler = createHttpHandler({ prefix: '/sync', auth: staticTokenAuth({ token, subject: 'app-service' }), routes: [
  envSyncRoutes(source, { models: ['Writer'] }), pushPullRoutes(source, { models: ['Writer'], onRequest: metrics.record }), metricsRoutes(metrics), healthRoutes(source),
  adminRoutes(source, { prefix: '/sync', signIn: { secret: 'install-test-secret-of-32-bytes-or-more', issuer: 'app', audience: 'sync', verify: () => null } }),
] });
const server = createServer(toNodeListener(handler));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const pulledDb = await open([Writer, Novel]);
await createSchema(pulledDb);
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sync`;
const first = await pullFrom(pulledDb.em.fork(), url, { token, models: ['Writer'] });
const second = await pullFrom(pulledDb.em.fork(), url, { token, models: ['Writer'] });
const call = async <T>(path: string, body: object): Promise<T> =>
  (await fetch(`${url}/${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } })).json() as Promise<T>;
const initial = await call<PulledChanges>('pull', { models: ['Writer'] });
const pushed = await call<PushResult>('push', { clientId: 'app', mutationId: 'first', checkpoint: initial.checkpoint,
  changes: [{ model: 'Writer', id: 500, doc: { name: 'Octavia', email: 'octavia@example.com' } }] });
const after = await call<PulledChanges>('pull', { models: ['Writer'], checkpoint: initial.checkpoint });
const get = (path: string) => fetch(`${url}/${path}`, { headers: { authorization: `Bearer ${token}` } });
const health = (await get('health')).status;
const metricsText = await (await get('metrics')).text();
const adminLogin = (await fetch(`${url}/admin/login`)).headers.get('content-type');
await new Promise((resolve) => server.close(resolve));
const trail = (await auditTrail(source.em.fork(), { model: 'Writer', key: 500 })).entries;
// a request's log entry is written after its answer: wait for them (a few seconds at most)
const loggedRequests = async (count: number) => {
  for (let waited = 0; ; waited += 20) {
    const { entries } = await syncLog(source.em.fork(), { user: 'app-service' });
    if (entries.length >= count || waited >= 5000) return entries;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
// the writers of the source against those pulled into the fourth database, by natural key: the same after the pull
const writersOf = (orm: MikroORM) => fromEntity(orm.em.fork(), Writer, { fields: ['name'] });
const compared = await diff(writersOf(source), writersOf(pulledDb), { key: 'email' });
// two entity sources of one database compare in it: every writer against those named Octavia
const inOneDatabase = await diff(writersOf(source), fromEntity(source.em.fork(), Writer, { fields: ['name'], where: { name: 'Octavia' } }), { key: 'email' });
const operated = {
  compared: compared.counts,
  inOneDatabase: { strategy: inOneDatabase.strategy, counts: inOneDatabase.counts },
  audited: trail.map((entry) => [entry.operation, entry.actor, entry.client]),
  logged: (await loggedRequests(3)).map((entry) => entry.endpoint).sort(),
  health, counted: /entity_sync_requests_total\{endpoint="push",status="200"\} 1/.test(metricsText), adminLogin,
};
const pulled = { created: first.models[0]?.created ?? null, unchangedAfter: second.models[0]?.unchanged ?? null };
const synced = {
  initial: initial.changes[0]?.upserted.map((doc) => doc.name) ?? [],
  pushed: pushed.results?.map((result) => result.status) ?? [],
  after: after.changes[0]?.upserted.map((doc) => doc.name) ?? [],
};

console.log(JSON.stringify({ imported, rows: report.rows, replicated: copy?.name ?? null, pulled, synced, operated }));
await Promise.all([source.close(), target.close(), replica.close(), pulledDb.close()]);
