// Roles, permissions and row filters of the push/pull sync API: a user's roles decide which models
// they may pull and push, and which kinds of change (create, update, delete) on which rows (the
// filters). They are kept in the database and read by every request, so a revocation holds on the
// very next one, and a client whose permissions changed starts its pull over (rows it may no
// longer see come back as deleted). A randomized run of tenants x roles x filters checks that no
// pull carries a row outside them and no push changes one.
import 'reflect-metadata';
import { createHttpHandler, jwtAuth, type ErrorBody } from '@entity-sync/adapters/http';
import {
  CURRENT_TENANT, CURRENT_USER, EntitySync, grantPermissions, installPushPull, listPermissions, pullChanges, pushChanges, pushPullRoutes, revokePermissions,
  type PulledChanges, type RowFilter, type SyncAccess,
} from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';

@Entity({ tableName: 'ro_task' })
@SyncModel({ tenant: 'org' })
class RoTask {
  @PrimaryKey() id!: number;
  @Property() org!: string;
  @Property() owner!: string;
  @Property() category!: string;
  @Property() score!: number;
}

@Entity({ tableName: 'ro_memo' })
@SyncModel()
class RoMemo {
  @PrimaryKey() id!: number;
  @Property() text!: string;
}

const served = ['RoTask', 'RoMemo'];
const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';
const ORGS = ['acme', 'globex'];
const OWNERS = ['ada', 'bob', 'cy'];
const CATEGORIES = ['alpha', 'beta', 'gamma-ray', 'alphabet'];

type Task = { id: number; org: string; owner: string; category: string; score: number };

/** Every row a client holds after pulling from `checkpoint` (default: the start) into `held`. */
async function pullAll(orm: MikroORM, access: SyncAccess, tenant: string, held = new Map<string, Record<string, unknown>>(), from: string | null = null) {
  let checkpoint = from;
  for (let more = true; more;) {
    const answer: PulledChanges = await pullChanges(orm.em.fork(), { checkpoint, tenant, served, access, limit: 5 });
    for (const change of answer.changes) {
      for (const doc of change.upserted) held.set(`${change.model}:${doc.id}`, doc);
      for (const id of change.deleted) held.delete(`${change.model}:${id}`);
    }
    ({ checkpoint, hasMore: more } = answer);
  }
  return { held, checkpoint };
}

const ids = (held: Map<string, Record<string, unknown>>, model = 'RoTask') =>
  [...held.keys()].filter((key) => key.startsWith(`${model}:`)).map((key) => Number(key.split(':')[1])).sort((a, b) => a - b);

/** A tiny deterministic random source, so that a failing run can be replayed. */
function random(seed: number) {
  return () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
}

/** Whether a task passes one filter, as the API means it (the oracle of the randomized test). */
function passes(task: Task, filter: RowFilter, user: string, tenant: string): boolean {
  const resolve = (value: unknown) => (value === CURRENT_USER ? user : value === CURRENT_TENANT ? tenant : value);
  const actual = task[filter.field as keyof Task];
  const value = resolve(filter.value);
  switch (filter.op) {
    case 'eq': return actual === value;
    case 'in': return (value as unknown[]).includes(actual);
    case 'gte': return typeof actual === 'number' ? actual >= Number(value) : String(actual) >= String(value);
    case 'lte': return typeof actual === 'number' ? actual <= Number(value) : String(actual) <= String(value);
    case 'contains': return String(actual).includes(String(value));
    case 'startsWith': return String(actual).startsWith(String(value));
  }
}

for (const backend of testBackends()) {
  const test = suite(`push/pull: roles, permissions, row filters [${backend.name}]`);
  let orm: MikroORM;

  const tasks = async () => (await orm.em.fork().find(RoTask, {}, { orderBy: { id: 'asc' } })).map((task) => ({ ...task }));

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [RoTask, RoMemo], extensions: [EntitySync] });
    const em = orm.em.fork();
    em.create(RoTask, { id: 1, org: 'acme', owner: 'ada', category: 'alpha', score: 10 });
    em.create(RoTask, { id: 2, org: 'acme', owner: 'bob', category: 'beta', score: 20 });
    em.create(RoTask, { id: 3, org: 'acme', owner: 'ada', category: 'gamma-ray', score: 30 });
    em.create(RoTask, { id: 4, org: 'globex', owner: 'ada', category: 'alpha', score: 40 });
    em.create(RoMemo, { id: 1, text: 'shared memo' });
    await em.flush();
    await installPushPull(orm.em.fork(), { models: served });
  });
  test.after.each(() => orm.close());

  test('a role pulls the models it has pull on, only its filtered rows; a model it lacks is refused by name, not left out silently', async () => {
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'RoTask', pull: true, filters: [{ field: 'owner', op: 'eq', value: CURRENT_USER }] });
    const ada: SyncAccess = { user: 'ada', roles: ['member'] };
    const { held } = await pullAll(orm, ada, 'acme');
    assert.equal(ids(held), [1, 3], 'ada pulls her acme tasks, not bob\'s nor her globex one');
    assert.equal(ids(held, 'RoMemo'), [], 'no role of hers may pull RoMemo: a pull of every model leaves it out');
    const denied = await pullChanges(orm.em.fork(), { models: ['RoTask', 'RoMemo'], tenant: 'acme', served, access: ada }).catch((error: unknown) => error);
    assert.ok(isEntitySyncError(denied) && denied.code === 'PUSH_PULL_FORBIDDEN', String(denied));
    assert.match(denied.message, 'RoMemo');
    assert.not.match(denied.message, 'RoTask,');
    const nobody = await pullAll(orm, { user: 'bob', roles: ['stranger'] }, 'acme');
    assert.equal(nobody.held.size, 0, 'a user without roles pulls nothing');
  });

  test('each kind of change needs its permission, and the row must be inside the filters before and after it', async () => {
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'RoTask', pull: true, push: true, create: true, update: true,
      filters: [{ field: 'owner', op: 'eq', value: CURRENT_USER }] });
    const ada: SyncAccess = { user: 'ada', roles: ['member'] };
    const { checkpoint } = await pullAll(orm, ada, 'acme');
    const push = (mutationId: string, changes: Parameters<typeof pushChanges>[1]['changes']) =>
      pushChanges(orm.em.fork(), { clientId: 'ada-phone', mutationId, checkpoint, tenant: 'acme', served, access: ada, changes });
    const before = await tasks();
    const { results } = await push('m1', [
      { model: 'RoTask', id: 1, doc: { score: 11 } },
      { model: 'RoTask', id: 2, doc: { score: 99 } },
      { model: 'RoTask', id: 3, doc: { owner: 'bob' } },
      { model: 'RoTask', id: 5, doc: { owner: 'ada', category: 'beta', score: 5 } },
      { model: 'RoTask', id: 6, doc: { owner: 'bob', category: 'beta', score: 6 } },
    ]);
    assert.equal(results.map((result) => [result.id, result.status, result.reason ?? '']), [
      [1, 'updated', ''],
      [2, 'refused', 'the row is outside the rows your roles may update'],
      [3, 'refused', 'the row is outside the rows your roles may update'],
      [5, 'created', ''],
      [6, 'refused', 'the row is outside the rows your roles may create'],
    ]);
    const deleted = await push('m1b', [{ model: 'RoTask', id: 3, deleted: true }]);
    assert.equal(deleted.results.map((result) => [result.id, result.status, result.reason]), [[3, 'refused', 'your roles have no delete permission on RoTask']]);
    const after = await tasks();
    assert.equal(after.find((task) => task.id === 1)?.score, 11);
    assert.equal(after.filter((task) => task.id !== 1 && task.id !== 5), before.filter((task) => task.id !== 1), 'nothing refused was written');
    assert.equal(after.find((task) => task.id === 5), { id: 5, org: 'acme', owner: 'ada', category: 'beta', score: 5 });
    const memo = await push('m2', [{ model: 'RoMemo', id: 1, doc: { text: 'changed' } }]).catch((error: unknown) => error);
    assert.ok(isEntitySyncError(memo) && memo.code === 'PUSH_PULL_FORBIDDEN' && memo.message.includes('RoMemo'), String(memo));
    assert.equal((await orm.em.fork().findOneOrFail(RoMemo, 1)).text, 'shared memo');
  });

  test('filter operators: in, gte, lte, contains, startsWith, the tenant, and several roles adding up', async () => {
    const cases: [RowFilter[], number[]][] = [
      [[{ field: 'category', op: 'in', value: ['beta', 'gamma-ray'] }], [2, 3]],
      [[{ field: 'score', op: 'gte', value: 20 }], [2, 3]],
      [[{ field: 'score', op: 'lte', value: 20 }, { field: 'score', op: 'gte', value: 15 }], [2]],
      [[{ field: 'category', op: 'contains', value: 'ray' }], [3]],
      [[{ field: 'category', op: 'startsWith', value: 'al' }], [1]],
      [[{ field: 'org', op: 'eq', value: CURRENT_TENANT }], [1, 2, 3]],
      [[{ field: 'org', op: 'eq', value: 'globex' }], []],
    ];
    for (const [filters, expected] of cases) {
      await grantPermissions(orm.em.fork(), { role: 'r', model: 'RoTask', pull: true, filters });
      assert.equal(ids((await pullAll(orm, { user: 'ada', roles: ['r'] }, 'acme')).held), expected, JSON.stringify(filters));
    }
    await grantPermissions(orm.em.fork(), { role: 'r', model: 'RoTask', pull: true, filters: [{ field: 'score', op: 'eq', value: 10 }] });
    await grantPermissions(orm.em.fork(), { role: 's', model: 'RoTask', pull: true, filters: [{ field: 'owner', op: 'eq', value: 'bob' }] });
    assert.equal(ids((await pullAll(orm, { user: 'cy', roles: ['r', 's'] }, 'acme')).held), [1, 2], 'a row is the user\'s when any of their roles lets it through');
    for (const [bad, why] of [
      [{ field: 'secret', op: 'eq', value: 1 }, 'not a property'],
      [{ field: 'score', op: 'like', value: 1 }, 'is not one of'],
      [{ field: 'score', op: 'in', value: 3 }, 'takes a list'],
      [{ field: 'score', op: 'gte', value: { a: 1 } }, 'must be a string'],
    ] as [RowFilter, string][]) {
      const error = await grantPermissions(orm.em.fork(), { role: 'r', model: 'RoTask', pull: true, filters: [bad] }).catch((caught: unknown) => caught);
      assert.ok(isEntitySyncError(error) && error.code === 'PUSH_PULL_PERMISSION_INVALID' && error.message.includes(why), String(error));
    }
    const unknown = await grantPermissions(orm.em.fork(), { role: 'r', model: 'Nope', pull: true }).catch((caught: unknown) => caught);
    assert.ok(isEntitySyncError(unknown) && unknown.code === 'PUSH_PULL_PERMISSION_INVALID', String(unknown));
    assert.equal((await listPermissions(orm.em.fork())).map((permission) => [permission.role, permission.filters.length]), [['r', 1], ['s', 1]], 'the refused grants changed nothing');
  });

  test('a changed filter or a revocation holds on the next pull: the client starts over, rows it lost come back as deleted', async () => {
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'RoTask', pull: true });
    const ada: SyncAccess = { user: 'ada', roles: ['member'] };
    const first = await pullAll(orm, ada, 'acme');
    assert.equal(ids(first.held), [1, 2, 3]);
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'RoTask', pull: true, filters: [{ field: 'owner', op: 'eq', value: CURRENT_USER }] });
    const narrowed = await pullAll(orm, ada, 'acme', first.held, first.checkpoint);
    assert.equal(ids(narrowed.held), [1, 3], 'bob\'s task came back as deleted though it did not change');
    const unchanged = await pullChanges(orm.em.fork(), { checkpoint: narrowed.checkpoint, tenant: 'acme', served, access: ada });
    assert.equal(unchanged.changes, [], 'with the same permissions the pull goes on from its checkpoint');
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'RoTask', pull: true, filters: [{ field: 'owner', op: 'in', value: ['ada', 'bob'] }] });
    const widened = await pullAll(orm, ada, 'acme', narrowed.held, narrowed.checkpoint);
    assert.equal(ids(widened.held), [1, 2, 3], 'a row she may see now comes, though it did not change');
    await revokePermissions(orm.em.fork(), { role: 'member', model: 'RoTask' });
    const revoked = await pullAll(orm, ada, 'acme', widened.held, widened.checkpoint);
    assert.equal(ids(revoked.held), [], 'a revoked model is left out, and its rows come back as deleted');
  });

  test('over HTTP: a denied model is 403 naming it; a revocation holds on the very next request', async () => {
    let server: Served | undefined;
    try {
      server = await serve(createHttpHandler({
        prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'] }),
        routes: (route) => {
          pushPullRoutes(orm, { models: served, permissions: true })(route);
        },
      }), 'node');
      const token = await new SignJWT({ scope: 'push-pull:pull push-pull:push', tenants: ['acme'], sync_roles: ['member'] })
        .setProtectedHeader({ alg: 'HS256' }).setSubject('ada').setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
      const post = (path: string, body: object) => fetch(`${server!.url}/sync/${path}`, {
        method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      });
      await grantPermissions(orm.em.fork(), { role: 'member', model: 'RoTask', pull: true, push: true, update: true, filters: [{ field: 'owner', op: 'eq', value: CURRENT_USER }] });
      const pulled = await (await post('pull', { models: ['RoTask'] })).json() as PulledChanges;
      assert.equal(pulled.changes[0]?.upserted.map((doc) => doc.id), [1, 3]);
      const memo = await post('pull', { models: ['RoMemo'] });
      const memoBody = await memo.text();
      assert.equal([memo.status, (JSON.parse(memoBody) as ErrorBody).error.code], [403, 'PUSH_PULL_FORBIDDEN']);
      assert.match(memoBody, 'RoMemo');
      assert.not.match(memoBody, 'shared memo');
      const pushed = await post('push', { clientId: 'c', mutationId: 'm1', checkpoint: pulled.checkpoint, changes: [{ model: 'RoTask', id: 1, doc: { score: 12 } }] });
      assert.equal(pushed.status, 200);
      await revokePermissions(orm.em.fork(), { role: 'member' });
      const afterRevoke = await post('push', { clientId: 'c', mutationId: 'm2', changes: [{ model: 'RoTask', id: 1, doc: { score: 13 } }] });
      assert.equal([afterRevoke.status, ((await afterRevoke.json()) as ErrorBody).error.code], [403, 'PUSH_PULL_FORBIDDEN']);
      const pullAfter = await post('pull', { models: ['RoTask'] });
      assert.equal(pullAfter.status, 403, 'the revoked pull is refused at once, no cache keeps it');
      assert.equal((await orm.em.fork().findOneOrFail(RoTask, 1)).score, 12);
    } finally {
      await server?.close();
    }
  });

  test('randomized tenants x roles x filters: no pull carries a row outside them, no push changes one', async () => {
    const next = random(20261201);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
    const em = orm.em.fork();
    for (let id = 5; id <= 60; id++) em.create(RoTask, { id, org: pick(ORGS), owner: pick(OWNERS), category: pick(CATEGORIES), score: Math.floor(next() * 100) });
    await em.flush();
    const filterPool = (): RowFilter[] => {
      const all: RowFilter[] = [
        { field: 'owner', op: 'eq', value: CURRENT_USER },
        { field: 'category', op: 'in', value: [pick(CATEGORIES), pick(CATEGORIES)] },
        { field: 'score', op: 'gte', value: Math.floor(next() * 60) },
        { field: 'score', op: 'lte', value: 40 + Math.floor(next() * 60) },
        { field: 'category', op: 'startsWith', value: pick(['al', 'be', 'ga']) },
        { field: 'category', op: 'contains', value: pick(['a', 'ph', 'ray']) },
      ];
      return all.filter(() => next() < 0.35);
    };
    const roles = ['r0', 'r1', 'r2', 'r3'];
    const grants = new Map<string, { pull: boolean; push: boolean; create: boolean; update: boolean; delete: boolean; filters: RowFilter[] }>();
    for (const role of roles) {
      const grant = { pull: next() < 0.8, push: next() < 0.7, create: next() < 0.6, update: next() < 0.6, delete: next() < 0.5, filters: filterPool() };
      grants.set(role, grant);
      await grantPermissions(orm.em.fork(), { role, model: 'RoTask', ...grant });
    }
    const may = (task: Task, user: string, userRoles: string[], tenant: string, right: 'pull' | 'create' | 'update' | 'delete') =>
      task.org === tenant && userRoles.some((role) => {
        const grant = grants.get(role)!;
        return grant[right] && (right === 'pull' || grant.push) && grant.filters.every((filter) => passes(task, filter, user, tenant));
      });
    const seen = { pulled: 0, hidden: 0, done: 0, refused: 0, forbidden: 0 };
    for (let round = 0; round < 12; round++) {
      const user = pick(OWNERS);
      const userRoles = roles.filter(() => next() < 0.4);
      const tenant = pick(ORGS);
      const access = { user, roles: userRoles };
      const before = await tasks() as Task[];
      const { held, checkpoint } = await pullAll(orm, access, tenant);
      const expected = before.filter((task) => may(task, user, userRoles, tenant, 'pull')).map((task) => task.id);
      assert.equal(ids(held), expected, `round ${round}: ${user} ${userRoles.join('+')} in ${tenant} pulls exactly the rows of its roles`);
      seen.pulled += expected.length;
      seen.hidden += before.filter((task) => task.org === tenant).length - expected.length;
      const changes = Array.from({ length: 8 }, () => {
        const id = 1 + Math.floor(next() * 70);
        return next() < 0.25 ? { model: 'RoTask', id, deleted: true }
          : { model: 'RoTask', id, doc: { owner: pick(OWNERS), category: pick(CATEGORIES), score: Math.floor(next() * 100) } };
      }).filter((change, index, all) => all.findIndex((other) => other.id === change.id) === index);
      const grantsAny = userRoles.some((role) => grants.get(role)!.push);
      const outcome = await pushChanges(orm.em.fork(), { clientId: `${user}-${round}`, mutationId: 'm', checkpoint, tenant, served, access, changes }).catch((error: unknown) => error);
      if (!grantsAny) {
        assert.ok(isEntitySyncError(outcome) && outcome.code === 'PUSH_PULL_FORBIDDEN', `round ${round}: a push without the push permission is refused`);
        assert.equal(await tasks(), before);
        seen.forbidden++;
        continue;
      }
      assert.ok(!(outcome instanceof Error), String(outcome));
      const after = new Map((await tasks() as Task[]).map((task) => [task.id, task]));
      for (const change of changes) {
        const old = before.find((task) => task.id === change.id);
        const now = after.get(change.id);
        const op = change.deleted ? 'delete' : old ? 'update' : 'create';
        const result = (outcome as { results: { id: number; status: string }[] }).results.find((item) => item.id === change.id)!;
        const wanted = change.deleted ? undefined : { ...(old ?? { id: change.id, org: tenant }), ...change.doc } as Task;
        const allowed = op === 'delete' ? !old || may(old, user, userRoles, tenant, 'delete')
          : (!old || may(old, user, userRoles, tenant, op)) && may(wanted!, user, userRoles, tenant, op) && (!old || old.org === tenant);
        if (allowed) {
          assert.equal(now, wanted, `round ${round}: change of ${change.id} (${op}) allowed and done`);
          seen.done++;
        } else {
          seen.refused++;
          assert.equal(result.status, 'refused', `round ${round}: change of ${change.id} (${op}) refused`);
          assert.equal(now, old, `round ${round}: the refused change of ${change.id} wrote nothing`);
        }
      }
    }
    // the run met every outcome, so that each assertion above was exercised
    assert.ok(Object.values(seen).every((count) => count > 0), JSON.stringify(seen));
  });

  test.run();
}
