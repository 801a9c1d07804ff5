// Operating the sync API over a real HTTP server on 127.0.0.1: every push and pull, refused ones
// too, writes a sync log entry (user, tenant, client, endpoint, models, rows, conflicts, refusals,
// status, error code) that can be filtered, paged, exported as CSV and NDJSON and pruned; the
// metrics parse as the Prometheus text format and count what was done; health answers 503
// naming the part that fails.
import 'reflect-metadata';
import { createHttpHandler, jwtAuth } from '@entity-sync/adapters/http';
import {
  createSyncMetrics, CURRENT_USER, EntitySync, exportSyncLog, grantPermissions, healthRoutes, installPushPull, metricsRoutes, pruneSyncLog, pushPullRoutes,
  syncLog, type PulledChanges, type SyncLogEntry,
} from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { SignJWT } from 'jose';
import parsePrometheus from 'parse-prometheus-text-format';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { LocalDirectoryStorage } from '@entity-sync/adapters/storage';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, type Served } from '../http/serve.js';

@Entity({ tableName: 'op_task' })
@SyncModel({ tenant: 'org' })
class OpTask {
  @PrimaryKey() id!: number;
  @Property() org!: string;
  @Property() owner!: string;
  @Property() title!: string;
}

const SECRET = 'operations-secret-of-thirty-two-bytes!';
const token = (subject: string, scope: string, roles: string[] = ['member']) => new SignJWT({ scope, tenants: ['acme'], sync_roles: roles })
  .setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));

interface PromFamily { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }[] }

for (const backend of testBackends()) {
  const test = suite(`push/pull: sync log, metrics, health [${backend.name}]`);
  let orm: MikroORM;
  let server: Served;
  let ada: string;

  const post = (path: string, body: unknown, bearer: string | null = ada, accept?: string) => fetch(`${server.url}/sync/${path}`, {
    method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(accept ? { accept } : {}) },
  });
  /** The log's entries, oldest first, once `count` are there (an entry is written after its answer). */
  const logged = async (count: number): Promise<SyncLogEntry[]> => {
    for (let waited = 0; ; waited += 20) {
      const { entries } = await syncLog(orm.em.fork(), { limit: 1000 });
      if (entries.length >= count || waited > 5000) return entries.reverse();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [OpTask], extensions: [EntitySync] });
    const em = orm.em.fork();
    for (let id = 1; id <= 6; id++) em.create(OpTask, { id, org: id <= 4 ? 'acme' : 'globex', owner: id % 2 ? 'ada' : 'bob', title: `task ${id}` });
    await em.flush();
    await installPushPull(orm.em.fork());
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'OpTask', pull: true, push: true, create: true, update: true, filters: [{ field: 'owner', op: 'eq', value: CURRENT_USER }] });
    const metrics = await createSyncMetrics(orm);
    server = await serve(createHttpHandler({
      prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'] }),
      routes: [pushPullRoutes(orm, { permissions: true, onRequest: metrics.record }), metricsRoutes(metrics), healthRoutes(orm, { checks: { ledger: async () => 'fine' } })],
    }), 'node');
    ada = await token('ada', 'push-pull:pull push-pull:push push-pull:metrics');
  });
  test.after.each(async () => {
    await server.close();
    await orm.close();
  });

  test('every pull and push, refused ones too, is logged with who, what, how many, and how it ended', async () => {
    const pulled = await (await post('pull', { tenant: 'acme', clientId: 'phone' })).json() as PulledChanges;
    assert.equal(pulled.changes[0]!.upserted.map((doc) => doc.id), [1, 3]);
    const streamed = await (await post('pull', { tenant: 'acme', clientId: 'tablet', limit: 1 }, ada, 'application/x-ndjson')).text();
    assert.is(streamed.trim().split('\n').length, 3, 'two lines of a row, and the last');
    await orm.em.fork().nativeUpdate(OpTask, { id: 3 }, { title: 'changed on the server' });
    const pushed = await (await post('push', {
      tenant: 'acme', clientId: 'phone', mutationId: 'm1', checkpoint: pulled.checkpoint, changes: [
        { model: 'OpTask', id: 1, doc: { title: 'mine' } },
        { model: 'OpTask', id: 3, doc: { title: 'stale' } },
        { model: 'OpTask', id: 2, doc: { title: 'not mine' } },
      ],
    })).json() as { results: { status: string }[] };
    assert.equal(pushed.results.map((result) => result.status), ['updated', 'conflict', 'refused']);
    assert.is((await post('push', { tenant: 'acme', clientId: 'phone', changes: [] })).status, 400, 'no mutationId');
    assert.is((await post('pull', { tenant: 'acme' }, null)).status, 401);
    assert.is((await post('pull', { tenant: 'globex' })).status, 403);
    const entries = await logged(6);
    // an entry is written after its answer, each on its own: the log's order need not be the requests'
    const byStatus = (a: { status: number; endpoint: string; client: string | null }, b: typeof a) => a.status - b.status || a.endpoint.localeCompare(b.endpoint) || String(a.client).localeCompare(String(b.client));
    const shape = entries.map(({ user, roles, tenant, client, endpoint, models, rowsIn, rowsOut, conflicts, refused, status, errorCode }) =>
      ({ user, roles, tenant, client, endpoint, models, rowsIn, rowsOut, conflicts, refused, status, errorCode })).sort(byStatus);
    assert.equal(shape, [
      { user: 'ada', roles: ['member'], tenant: 'acme', client: 'phone', endpoint: 'pull', models: ['OpTask'], rowsIn: 0, rowsOut: 2, conflicts: 0, refused: 0, status: 200, errorCode: null },
      { user: 'ada', roles: ['member'], tenant: 'acme', client: 'tablet', endpoint: 'pull', models: ['OpTask'], rowsIn: 0, rowsOut: 2, conflicts: 0, refused: 0, status: 200, errorCode: null },
      { user: 'ada', roles: ['member'], tenant: 'acme', client: 'phone', endpoint: 'push', models: ['OpTask'], rowsIn: 3, rowsOut: 1, conflicts: 1, refused: 1, status: 200, errorCode: null },
      { user: 'ada', roles: ['member'], tenant: 'acme', client: 'phone', endpoint: 'push', models: [], rowsIn: 0, rowsOut: 0, conflicts: 0, refused: 0, status: 400, errorCode: 'REQUEST_INVALID' },
      { user: null, roles: [], tenant: null, client: null, endpoint: 'pull', models: [], rowsIn: 0, rowsOut: 0, conflicts: 0, refused: 0, status: 401, errorCode: 'AUTH_REQUIRED' },
      { user: 'ada', roles: ['member'], tenant: 'globex', client: null, endpoint: 'pull', models: [], rowsIn: 0, rowsOut: 0, conflicts: 0, refused: 0, status: 403, errorCode: 'PUSH_PULL_TENANT_FORBIDDEN' },
    ]);
    assert.ok(entries.every((entry) => entry.durationMs >= 0 && !Number.isNaN(Date.parse(entry.at))));
    const ids = (list: SyncLogEntry[]) => list.map((entry) => entry.id);
    assert.equal(ids((await syncLog(orm.em.fork(), { failed: true })).entries).reverse(), ids(entries.filter((entry) => entry.status >= 400)));
    assert.equal(ids((await syncLog(orm.em.fork(), { client: 'tablet' })).entries), ids(entries.filter((entry) => entry.client === 'tablet')));
    assert.equal(ids((await syncLog(orm.em.fork(), { endpoint: 'push', model: 'OpTask' })).entries), ids(entries.filter((entry) => entry.endpoint === 'push' && entry.status === 200)));
    const first = await syncLog(orm.em.fork(), { limit: 4 });
    const rest = await syncLog(orm.em.fork(), { limit: 4, cursor: first.cursor });
    assert.equal([...ids(first.entries), ...ids(rest.entries)].reverse(), ids(entries));
    assert.is(rest.cursor, null);
  });

  test('the log exports as CSV and NDJSON, and is pruned by age and by count', async () => {
    for (let i = 0; i < 3; i++) await post('pull', { tenant: 'acme', clientId: `c${i}` });
    await post('pull', { tenant: 'acme', checkpoint: 'forged' });
    const entries = await logged(4);
    let csv = '';
    for await (const lines of exportSyncLog(orm.em.fork(), { format: 'csv' })) csv += lines;
    const rows = csv.trim().split('\n').map((line) => line.split(','));
    assert.equal(rows[0], ['id', 'at', 'user', 'roles', 'tenant', 'client', 'endpoint', 'models', 'rowsIn', 'rowsOut', 'conflicts', 'refused', 'durationMs', 'status', 'errorCode']);
    assert.equal(rows.slice(1).map((row) => [row[0], row[3], row[5], row[13], row[14]]),
      [...entries].reverse().map((entry) => [entry.id, 'member', entry.client, String(entry.status), entry.errorCode ?? '']));
    assert.equal(rows.slice(1).filter((row) => row[14] === 'PULL_CHECKPOINT_INVALID').length, 1);
    let ndjson = '';
    for await (const lines of exportSyncLog(orm.em.fork(), { format: 'ndjson', failed: false })) ndjson += lines;
    assert.equal(ndjson.trim().split('\n').map((line) => (JSON.parse(line) as SyncLogEntry).client).sort(), ['c0', 'c1', 'c2']);
    assert.is(await pruneSyncLog(orm.em.fork(), { keep: 3 }), 1);
    assert.is(await pruneSyncLog(orm.em.fork(), { olderThan: 3_600_000 }), 0);
    assert.is(await pruneSyncLog(orm.em.fork(), { olderThan: new Date(Date.now() + 1000) }), 3);
    assert.equal((await syncLog(orm.em.fork())).entries, []);
  });

  test('metrics parse as the Prometheus text format and count requests, rows, conflicts, refusals and errors; a token without the right gets 403', async () => {
    const pulled = await (await post('pull', { tenant: 'acme', clientId: 'phone' })).json() as PulledChanges;
    await orm.em.fork().nativeUpdate(OpTask, { id: 3 }, { title: 'server side' });
    await post('push', { tenant: 'acme', clientId: 'phone', mutationId: 'm1', checkpoint: pulled.checkpoint, changes: [
      { model: 'OpTask', id: 3, doc: { title: 'stale' } }, { model: 'OpTask', id: 2, doc: { title: 'not mine' } }, { model: 'OpTask', id: 1, doc: { title: 'ok' } }] });
    await post('pull', { tenant: 'acme', checkpoint: 'forged' });
    await logged(3);
    const response = await fetch(`${server.url}/sync/metrics`, { headers: { authorization: `Bearer ${ada}` } });
    assert.is(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', 'text/plain');
    const text = await response.text();
    const families = new Map((parsePrometheus(text) as PromFamily[]).map((family) => [family.name, family]));
    const value = (name: string, labels: Record<string, string>) =>
      Number(families.get(name)?.metrics.find((metric) => Object.entries(labels).every(([key, wanted]) => metric.labels?.[key] === wanted))?.value ?? NaN);
    assert.is(value('entity_sync_requests_total', { endpoint: 'pull', status: '200' }), 1);
    assert.is(value('entity_sync_requests_total', { endpoint: 'pull', status: '400' }), 1);
    assert.is(value('entity_sync_requests_total', { endpoint: 'push', status: '200' }), 1);
    assert.is(value('entity_sync_rows_total', { endpoint: 'pull', direction: 'out' }), 2);
    assert.is(value('entity_sync_rows_total', { endpoint: 'push', direction: 'in' }), 3);
    assert.is(value('entity_sync_conflicts_total', { endpoint: 'push' }), 1);
    assert.is(value('entity_sync_refused_total', { endpoint: 'push' }), 1);
    assert.is(value('entity_sync_errors_total', { endpoint: 'pull', code: 'PULL_CHECKPOINT_INVALID' }), 1);
    assert.is(families.get('entity_sync_request_duration_seconds')!.type, 'HISTOGRAM');
    // the parser keeps one series of a histogram: the labelled counts are read from the text
    assert.match(text, /^entity_sync_request_duration_seconds_count\{endpoint="pull"\} 2$/m);
    assert.match(text, /^entity_sync_request_duration_seconds_bucket\{le="\+Inf",endpoint="push"\} 1$/m);
    assert.ok(value('entity_sync_checkpoint_lag_seconds', { user: 'ada', client: 'phone' }) >= 0, 'the client that pulled has a lag');
    assert.is(value('entity_sync_outbox_depth', {}), 0);
    const reader = await token('bob', 'push-pull:pull');
    assert.is((await fetch(`${server.url}/sync/metrics`, { headers: { authorization: `Bearer ${reader}` } })).status, 403);
  });

  test('a sync log whose table is gone does not fail the request: the handler is told, typed, what to run', async () => {
    const told: unknown[] = [];
    const own = await serve(createHttpHandler({
      prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'] }), routes: pushPullRoutes(orm, { permissions: true }), onError: (error) => void told.push(error),
    }), 'node');
    try {
      await orm.em.getConnection().execute(`drop table "${orm.config.get('schema') ?? 'public'}".entity_sync_log`);
      const response = await fetch(`${own.url}/sync/pull`, { method: 'POST', body: JSON.stringify({ tenant: 'acme' }), headers: { 'content-type': 'application/json', authorization: `Bearer ${ada}` } });
      assert.is(response.status, 200);
      for (let waited = 0; !told.length && waited < 5000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(isEntitySyncError(told[0]) && told[0].code === 'PUSH_PULL_NOT_INSTALLED', String(told[0]));
      assert.match((told[0] as Error).message, 'installPushPull');
    } finally {
      await own.close();
    }
  });

  test('health is 200 when every part answers, 503 naming the part that does not or takes too long', async () => {
    const transport = new MemoryTransport();
    await transport.declareQueue('replica', ['task']);
    const files = mkdtempSync(join(tmpdir(), 'entity-sync-health-'));
    const storage = new LocalDirectoryStorage(files);
    const healthy = await serve(createHttpHandler({
      prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'] }), routes: healthRoutes(orm, { storage, transport: { transport, queue: 'replica' } }),
    }), 'node');
    try {
      const answer = await (await fetch(`${healthy.url}/sync/health`)).json() as { status: string; parts: Record<string, { ok: boolean }> };
      assert.equal([answer.status, Object.keys(answer.parts)], ['ok', ['database', 'storage', 'transport']]);
    } finally {
      await healthy.close();
      await transport.close();
      rmSync(files, { recursive: true, force: true });
    }
    const ok = await fetch(`${server.url}/sync/health`);
    assert.is(ok.status, 200, 'served without credentials');
    const body = await ok.json() as { status: string; parts: Record<string, { ok: boolean }> };
    assert.equal([body.status, Object.keys(body.parts), body.parts.database!.ok], ['ok', ['database', 'ledger'], true]);
    const failing = await serve(createHttpHandler({
      prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'] }),
      routes: healthRoutes(orm, {
        timeoutMs: 200, transport: { transport: { pending: async () => Promise.reject(new Error('broker down')) }, queue: 'replica' },
        checks: { broken: async () => Promise.reject(new Error('disk full')), slow: () => new Promise(() => undefined) },
      }),
    }), 'node');
    try {
      const answer = await fetch(`${failing.url}/sync/health`);
      assert.is(answer.status, 503);
      const parts = await answer.json() as { status: string; failing: string[]; parts: Record<string, { ok: boolean; error?: string }> };
      assert.equal([parts.status, parts.failing, parts.parts.broken!.error, parts.parts.slow!.error, parts.parts.transport!.error],
        ['failing', ['transport', 'broken', 'slow'], 'disk full', 'no answer within 200 ms', 'broker down']);
      assert.ok(parts.parts.database!.ok);
    } finally {
      await failing.close();
    }
  });

  test.run();
}
