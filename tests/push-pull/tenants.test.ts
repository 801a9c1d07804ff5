// Tenants: a model with @SyncModel({ tenant }) is pulled and pushed one tenant at a time. No pull
// ever carries a row of another tenant, a row moved to another tenant comes back as deleted, a push
// cannot create, change or delete another tenant's rows, and over HTTP a token can only name its
// own tenants. A randomized run of writes by the app and by clients of several tenants checks it.
import 'reflect-metadata';
import { createHttpHandler, jwtAuth, tokenRoutes, type ErrorBody } from '@entity-sync/adapters/http';
import { EntitySync, installPushPull, pullChanges, pushChanges, pushPullRoutes, type PulledChanges } from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';

@Entity({ tableName: 'tn_doc' })
@SyncModel({ tenant: 'org' })
class TnDoc {
  @PrimaryKey({ type: 'text' }) id!: string;
  @Property() org!: string;
  @Property() title!: string;
}

@Entity({ tableName: 'tn_plan' })
@SyncModel()
class TnPlan {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

const TENANTS = ['acme', 'globex', 'initech'];
const served = ['TnDoc', 'TnPlan'];
const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';

/** Every row a tenant's client holds after pulling everything from the start. */
async function pullAll(orm: MikroORM, tenant: string): Promise<Map<string, Record<string, unknown>>> {
  const held = new Map<string, Record<string, unknown>>();
  let checkpoint: string | null = null;
  for (let more = true; more;) {
    const answer: PulledChanges = await pullChanges(orm.em.fork(), { checkpoint, tenant, served, limit: 7 });
    for (const change of answer.changes) {
      for (const doc of change.upserted) held.set(`${change.model}:${doc.id}`, doc);
      for (const id of change.deleted) held.delete(`${change.model}:${id}`);
    }
    ({ checkpoint, hasMore: more } = answer);
  }
  return held;
}

/** A tiny deterministic random source, so that a failing run can be replayed. */
function random(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
}

for (const backend of testBackends()) {
  const test = suite(`push/pull: tenants [${backend.name}]`);
  let orm: MikroORM;

  const docsOf = async (org: string) => (await orm.em.fork().find(TnDoc, { org }, { orderBy: { id: 'asc' } })).map((doc) => [doc.id, doc.title]);

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [TnDoc, TnPlan], extensions: [EntitySync] });
    const em = orm.em.fork();
    em.create(TnDoc, { id: 'a1', org: 'acme', title: 'acme plan' });
    em.create(TnDoc, { id: 'g1', org: 'globex', title: 'globex secret' });
    em.create(TnPlan, { id: 1, name: 'free' });
    await em.flush();
    await installPushPull(orm.em.fork(), { models: served });
  });
  test.after.each(() => orm.close());

  test('a tenant pulls its rows and the shared ones only; a row moved away comes back to it as deleted; no tenant named is refused', async () => {
    assert.equal([...(await pullAll(orm, 'acme')).keys()].sort(), ['TnDoc:a1', 'TnPlan:1']);
    assert.equal([...(await pullAll(orm, 'globex')).keys()].sort(), ['TnDoc:g1', 'TnPlan:1']);
    const before = await pullChanges(orm.em.fork(), { tenant: 'acme', served });
    await orm.em.fork().nativeUpdate(TnDoc, { id: 'a1' }, { org: 'globex' });
    const after = await pullChanges(orm.em.fork(), { tenant: 'acme', served, checkpoint: before.checkpoint });
    assert.equal(after.changes, [{ model: 'TnDoc', upserted: [], deleted: ['a1'] }]);
    assert.equal([...(await pullAll(orm, 'globex')).keys()].sort(), ['TnDoc:a1', 'TnDoc:g1', 'TnPlan:1']);
    const none = await pullChanges(orm.em.fork(), { served }).then(() => undefined, (error: unknown) => error);
    assert.ok(isEntitySyncError(none, 'PUSH_PULL_TENANT_REQUIRED'), String(none));
    // a model every tenant shares needs no tenant
    assert.equal((await pullChanges(orm.em.fork(), { served, models: ['TnPlan'] })).changes[0]!.upserted, [{ id: 1, name: 'free' }]);
  });

  test('a push cannot create a row naming another tenant, nor change or delete another tenant\'s row; its own rows get its tenant', async () => {
    const { results } = await pushChanges(orm.em.fork(), {
      clientId: 'acme-phone', mutationId: 'm1', tenant: 'acme', served, changes: [
        { model: 'TnDoc', id: 'a2', doc: { title: 'new, no tenant given' } },
        { model: 'TnDoc', id: 'x1', doc: { org: 'globex', title: 'planted' } },
        { model: 'TnDoc', id: 'g1', doc: { title: 'defaced' } },
        { model: 'TnDoc', id: 'g1', deleted: true },
      ],
    });
    assert.equal(results.map((result) => [result.id, result.status, result.reason]), [
      ['a2', 'created', undefined], ['x1', 'refused', 'the row names another tenant'],
      ['g1', 'refused', 'the row belongs to another tenant'], ['g1', 'refused', 'the row belongs to another tenant'],
    ]);
    assert.equal(await docsOf('acme'), [['a1', 'acme plan'], ['a2', 'new, no tenant given']]);
    assert.equal(await docsOf('globex'), [['g1', 'globex secret']]);
  });

  test('randomized writes by the app and by clients of three tenants: no pull carries another tenant\'s row, no push changes one', async () => {
    const next = random(20261201);
    const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
    for (let step = 0; step < 40; step++) {
      const tenant = pick(TENANTS);
      const id = `r${Math.floor(next() * 12)}`;
      const others = async () => Promise.all(TENANTS.filter((other) => other !== tenant).map(docsOf));
      if (next() < 0.3) {
        // the app writes or moves a row in any tenant
        const em = orm.em.fork();
        const doc = await em.findOne(TnDoc, id);
        if (doc) doc.org = pick(TENANTS);
        else em.create(TnDoc, { id, org: tenant, title: `app ${step}` });
        await em.flush();
      } else {
        const before = await others();
        await pushChanges(orm.em.fork(), {
          clientId: `${tenant}-client`, mutationId: `m${step}`, tenant, served,
          changes: [next() < 0.2 ? { model: 'TnDoc', id, deleted: true } : { model: 'TnDoc', id, doc: { title: `${tenant} ${step}`, ...(next() < 0.2 ? { org: pick(TENANTS) } : {}) } }],
        });
        assert.equal(await others(), before, `step ${step}: a push of ${tenant} changed another tenant's rows`);
      }
      for (const reader of TENANTS) {
        const held = await pullAll(orm, reader);
        const docs = [...held].filter(([key]) => key.startsWith('TnDoc:')).map(([, doc]) => doc);
        assert.ok(docs.every((doc) => doc.org === reader), `step ${step}: ${reader} holds ${JSON.stringify(docs.filter((doc) => doc.org !== reader))}`);
        assert.equal(docs.map((doc) => [doc.id, doc.title]).sort(), (await docsOf(reader)).sort(), `step ${step}: ${reader}'s copy differs from the server`);
      }
    }
  });

  test('over HTTP a token names only its own tenants: another is 403, none with several is 400, its only one is taken', async () => {
    let server: Served | undefined;
    try {
      const users: Record<string, string[]> = { ada: ['acme'], bob: ['acme', 'globex'] };
      server = await serve(createHttpHandler({
        prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'], issuer: 'app', audience: 'sync' }),
        routes: [tokenRoutes({ secret: SECRET, issuer: 'app', audience: 'sync', verify: ({ username }) => users[String(username)]
          ? { subject: String(username), rights: ['push-pull:pull', 'push-pull:push'], tenants: users[String(username)] } : null }), pushPullRoutes(orm, { models: served })],
      }), 'node');
      const tokenOf = async (username: string) => ((await (await fetch(`${server!.url}/sync/auth/token`, { method: 'POST', body: JSON.stringify({ username }), headers: { 'content-type': 'application/json' } })).json()) as { token: string }).token;
      const pull = (token: string, body: object) => fetch(`${server!.url}/sync/pull`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
      const ada = await tokenOf('ada');
      const own = await (await pull(ada, {})).json() as PulledChanges;
      assert.equal(own.changes.flatMap((change) => change.upserted.map((doc) => doc.id)).sort(), [1, 'a1']);
      const foreign = await pull(ada, { tenant: 'globex' });
      const body = await foreign.text();
      assert.equal([foreign.status, (JSON.parse(body) as ErrorBody).error.code], [403, 'PUSH_PULL_TENANT_FORBIDDEN']);
      assert.not.match(body, 'globex secret');
      const bob = await tokenOf('bob');
      const unnamed = await pull(bob, {});
      assert.equal([unnamed.status, ((await unnamed.json()) as ErrorBody).error.code], [400, 'PUSH_PULL_TENANT_REQUIRED']);
      const globex = await (await pull(bob, { tenant: 'globex' })).json() as PulledChanges;
      assert.equal(globex.changes.flatMap((change) => change.upserted.map((doc) => doc.id)).sort(), [1, 'g1']);
    } finally {
      await server?.close();
    }
  });

  test.run();
}
