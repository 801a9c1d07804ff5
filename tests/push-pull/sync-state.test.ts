// Per-user sync state: every pull over HTTP records, per user, client and model it covered, the
// checkpoint it handed out and when; every push, when. The app and the admin read it with
// syncStates, by user or client.
import 'reflect-metadata';
import { createHttpHandler, jwtAuth } from '@entity-sync/adapters/http';
import { EntitySync, grantPermissions, installPushPull, pushPullRoutes, syncStates, type PulledChanges } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';

@Entity({ tableName: 'ss_note' })
@SyncModel()
class SsNote {
  @PrimaryKey() id!: number;
  @Property() text!: string;
}

@Entity({ tableName: 'ss_label' })
@SyncModel()
class SsLabel {
  @PrimaryKey() id!: number;
  @Property() name!: string;
}

const SECRET = 'a-secret-of-at-least-thirty-two-bytes!';
const tokenOf = (user: string) => new SignJWT({ scope: 'push-pull:pull push-pull:push', sync_roles: ['member'] })
  .setProtectedHeader({ alg: 'HS256' }).setSubject(user).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));

for (const backend of testBackends()) {
  const test = suite(`push/pull: per-user sync state [${backend.name}]`);
  let orm: MikroORM;
  let server: Served;

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [SsNote, SsLabel], extensions: [EntitySync] });
    const em = orm.em.fork();
    em.create(SsNote, { id: 1, text: 'one' });
    em.create(SsLabel, { id: 1, name: 'red' });
    await em.flush();
    await installPushPull(orm.em.fork());
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'SsNote', pull: true, push: true, create: true, update: true });
    server = await serve(createHttpHandler({ prefix: '/sync', auth: jwtAuth({ secret: SECRET, algorithms: ['HS256'] }), routes: pushPullRoutes(orm, { permissions: true }) }), 'node');
  });
  test.after.each(async () => {
    await server.close();
    await orm.close();
  });

  const post = async (user: string, path: string, body: object) => {
    const response = await fetch(`${server.url}/sync/${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenOf(user)}` } });
    assert.equal(response.status, 200, `${path}: ${response.status}`);
    return response.json();
  };

  test('a pull records its checkpoint per user, client and model it covered; a push when; syncStates filters them', async () => {
    const phone = await post('ada', 'pull', { clientId: 'ada-phone' }) as PulledChanges;
    await post('ada', 'pull', { clientId: 'ada-laptop', models: ['SsNote'] });
    await post('bob', 'pull', {});
    const ada = await syncStates(orm.em.fork(), { user: 'ada' });
    assert.equal(ada.map((state) => [state.client, state.model, state.checkpoint === null, state.pushedAt]), [
      ['ada-laptop', 'SsNote', false, null],
      ['ada-phone', 'SsNote', false, null],
    ], 'SsLabel, which no role of hers may pull, is no model of her sync');
    assert.equal(ada.find((state) => state.client === 'ada-phone')?.checkpoint, phone.checkpoint);
    assert.ok(ada.every((state) => state.pulledAt instanceof Date && Date.now() - state.pulledAt.getTime() < 60_000));
    assert.equal((await syncStates(orm.em.fork(), { user: 'bob' })).map((state) => [state.client, state.model]), [['default', 'SsNote']], 'a pull without clientId is the client "default"');
    await post('ada', 'push', { clientId: 'ada-phone', mutationId: 'm1', checkpoint: phone.checkpoint, changes: [{ model: 'SsNote', id: 2, doc: { text: 'two' } }] });
    const afterPush = await syncStates(orm.em.fork(), { client: 'ada-phone' });
    assert.equal(afterPush.map((state) => [state.model, state.checkpoint, state.pushedAt instanceof Date]), [['SsNote', phone.checkpoint, true]], 'a push keeps the checkpoint and records when');
  });

  test.run();
}
