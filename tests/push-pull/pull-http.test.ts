// POST <prefix>/pull and /push over a real HTTP server on 127.0.0.1: a client pulls everything in
// pages with the checkpoint it is handed and pushes its changes; malformed bodies, foreign
// checkpoints, models not served and missing rights are refused with the status and code that say
// why, and nothing is sent or written.
import 'reflect-metadata';
import { createHttpHandler, staticTokenAuth, type ErrorBody } from '@entity-sync/adapters/http';
import { EntitySync, installPushPull, pushPullRoutes, type PulledChanges, type PushResult } from '@entity-sync/adapters/mikro-orm';
import { SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { BINDINGS, serve, type Binding, type Served } from '../http/serve.js';

@Entity({ tableName: 'ph_note' })
@SyncModel()
class PhNote {
  @PrimaryKey() id!: number;
  @Property() text!: string;
}

@Entity({ tableName: 'ph_secret' })
@SyncModel()
class PhSecret {
  @PrimaryKey() id!: number;
  @Property() text!: string;
}

const PULLER = 'puller-token-0123456789abcdef';
const NOBODY = 'nobody-token-0123456789abcdef';
const PUSHER = 'pusher-token-0123456789abcdef';

for (const backend of testBackends()) {
  const test = suite(`push/pull: POST /pull over HTTP [${backend.name}]`);
  let orm: MikroORM;
  let server: Served;

  const post = (body: unknown, token: string | null = PULLER, path = 'pull', accept?: string, signal?: AbortSignal) => fetch(`${server.url}/sync/${path}`, {
    method: 'POST', ...(signal ? { signal } : {}), body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...(accept ? { accept } : {}) },
  });
  const refusal = async (response: Response) => ({ status: response.status, ...((await response.json()) as ErrorBody).error });

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [PhNote, PhSecret], extensions: [EntitySync] });
    await installPushPull(orm.em.fork());
    const em = orm.em.fork();
    for (let id = 1; id <= 7; id++) em.create(PhNote, { id, text: `note ${id}` });
    em.create(PhSecret, { id: 1, text: 'the secret' });
    await em.flush();
    server = await serve(createHttpHandler({
      prefix: '/sync',
      auth: [staticTokenAuth({ token: PULLER, subject: 'puller', rights: ['push-pull:pull'] }), staticTokenAuth({ token: PUSHER, subject: 'pusher', rights: ['push-pull:pull', 'push-pull:push'] }), staticTokenAuth({ token: NOBODY, subject: 'nobody', rights: [] })],
      routes: pushPullRoutes(orm, { models: ['PhNote'] }),
    }), 'node');
  });
  test.after.each(async () => {
    await server.close();
    await orm.close();
  });

  test('a client pulls every row in pages with the checkpoint each answer hands it, and then nothing', async () => {
    let checkpoint: string | null = null;
    const texts: string[] = [];
    const pages: boolean[] = [];
    for (let more = true; more;) {
      const response = await post({ checkpoint, limit: 3 });
      assert.is(response.status, 200);
      const answer = await response.json() as PulledChanges;
      pages.push(answer.hasMore);
      texts.push(...answer.changes.flatMap((change) => change.upserted.map((doc) => doc.text as string)));
      ({ checkpoint, hasMore: more } = answer);
    }
    assert.equal(pages, [true, true, false]);
    assert.equal(texts.sort(), [1, 2, 3, 4, 5, 6, 7].map((id) => `note ${id}`));
    await orm.em.fork().nativeUpdate(PhNote, { id: 4 }, { text: 'note four' });
    const next = await (await post({ checkpoint })).json() as PulledChanges;
    assert.equal(next.changes, [{ model: 'PhNote', upserted: [{ id: 4, text: 'note four' }], deleted: [] }]);
  });

  test('malformed bodies are 400 naming the field; a foreign checkpoint 400; a model not served 403 naming it; nothing is sent', async () => {
    for (const [body, field] of [[{ limit: 0 }, 'limit'], [{ limit: 'many' }, 'limit'], [{ models: ['no such'] }, 'models'], [{ checkpoint: 42 }, 'checkpoint']] as const) {
      const answer = await refusal(await post(body));
      assert.equal([answer.status, answer.code], [400, 'REQUEST_INVALID'], JSON.stringify(body));
      assert.match(answer.message, field);
    }
    assert.equal((await refusal(await post('{"checkpoint": '))).code, 'REQUEST_INVALID');
    const foreign = await refusal(await post({ checkpoint: 'abc' }));
    assert.equal([foreign.status, foreign.code], [400, 'PULL_CHECKPOINT_INVALID']);
    const secret = await post({ models: ['PhSecret'] });
    const text = await secret.text();
    assert.is(secret.status, 403);
    assert.match(text, 'PUSH_PULL_MODEL_NOT_SERVED');
    assert.match(text, 'PhSecret');
    assert.not.match(text, 'the secret');
  });

  test('a client that accepts NDJSON gets every answer in one response, a line each; a bad request is refused before any line', async () => {
    const response = await post({ checkpoint: null, limit: 3 }, PULLER, 'pull', 'application/x-ndjson');
    assert.is(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', 'application/x-ndjson');
    const lines = (await response.text()).trimEnd().split('\n').map((line) => JSON.parse(line) as PulledChanges);
    assert.equal(lines.map((answer) => answer.hasMore), [true, true, true, false]);
    assert.equal(lines.flatMap((answer) => answer.changes.flatMap((change) => change.upserted.map((doc) => doc.id))), [1, 2, 3, 4, 5, 6, 7]);
    // JSON asked first, or nothing asked: one answer
    const json = await post({ checkpoint: null, limit: 3 }, PULLER, 'pull', 'application/json, application/x-ndjson');
    assert.match(json.headers.get('content-type') ?? '', 'application/json');
    assert.is(((await json.json()) as PulledChanges).hasMore, true);
    // the rows as arrays, the fields named
    const arrays = await (await post({ checkpoint: null, limit: 10, documents: 'arrays' })).json() as { changes: { fields: string[]; upserted: unknown[][] }[] };
    assert.equal(arrays.changes[0]!.fields, ['id', 'text']);
    assert.equal(arrays.changes[0]!.upserted.slice(0, 2), [[1, 'note 1'], [2, 'note 2']]);
    await orm.em.fork().nativeUpdate(PhNote, { id: 4 }, { text: 'note four' });
    // a change comes once every transaction older than it has ended, those of the server's other databases too
    const pullLater = async () => (await (await post({ checkpoint: lines.at(-1)!.checkpoint, documents: 'arrays' }, PULLER, 'pull', 'application/x-ndjson')).text())
      .trimEnd().split('\n').map((line) => (JSON.parse(line) as { changes: unknown[] }).changes);
    let later = await pullLater();
    for (let waited = 0; !later.flat().length && waited < 15_000; waited += 100) later = await sleep(100).then(pullLater);
    assert.equal(later, [[{ model: 'PhNote', fields: ['id', 'text'], upserted: [[4, 'note four']], deleted: [] }]]);
    for (const [body, status, code] of [[{ checkpoint: 'abc' }, 400, 'PULL_CHECKPOINT_INVALID'], [{ models: ['PhSecret'] }, 403, 'PUSH_PULL_MODEL_NOT_SERVED'],
      [{ documents: 'rows' }, 400, 'REQUEST_INVALID']] as const) {
      const refused = await post(body, PULLER, 'pull', 'application/x-ndjson');
      assert.match(refused.headers.get('content-type') ?? '', 'application/json', JSON.stringify(body));
      const answer = await refusal(refused);
      assert.equal([answer.status, answer.code], [status, code], JSON.stringify(body));
    }
  });

  test('a client that goes away in the middle of a streamed pull ends it, through every binding: its transaction and connection are let go', async () => {
    for (const binding of BINDINGS) {
      await server.close();
      server = await serve(createHttpHandler({ prefix: '/sync', auth: staticTokenAuth({ token: PULLER, subject: 'puller', rights: ['push-pull:pull'] }), routes: pushPullRoutes(orm, { models: ['PhNote'] }) }), binding);
      await leaveMidStream(binding);
    }
  });

  async function leaveMidStream(binding: Binding) {
    const connection = orm.em.getConnection();
    await connection.execute(`insert into ${orm.config.get('schema') ? `"${orm.config.get('schema')}".` : ''}ph_note (id, text) select i, repeat('n', 250) from generate_series(100, 60100) i on conflict do nothing`);
    for (let round = 0; round < 3; round++) {
      const leaving = new AbortController();
      const response = await post({ checkpoint: null, limit: 100 }, PULLER, 'pull', 'application/x-ndjson', leaving.signal);
      const reader = response.body!.getReader();
      assert.ok(((await reader.read()).value?.length ?? 0) > 0);
      leaving.abort();
    }
    if (backend.name === 'postgres') {
      // the pull's statements, not the sync log's entry of each answer, which is written once the answer has ended
      const busy = () => connection.execute<{ query: string }[]>("select query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() " +
        "and state <> 'idle' and query not like 'INSERT INTO %entity_sync_log %'");
      // a leaked connection stays busy; judge by the last reading, since a later one can catch a transaction that begins after it
      let left = await busy();
      for (let waited = 0; left.length && waited < 15_000; waited += 50) left = await new Promise((resolve) => setTimeout(resolve, 50)).then(busy);
      assert.equal(left, [], `${binding}: no connection left in a pull`);
    }
    const next = await (await post({ checkpoint: null, limit: 5 })).json() as PulledChanges;
    assert.is(next.changes[0]!.upserted.length, 5);
  }

  test('no token or a wrong one is 401, a token without the right 403; neither gets a row', async () => {
    for (const token of [null, 'wrong-token-0123456789abcdef']) {
      const response = await post({}, token);
      assert.is(response.status, 401);
      assert.not.match(await response.text(), 'note 1');
    }
    const forbidden = await refusal(await post({}, NOBODY));
    assert.equal([forbidden.status, forbidden.code], [403, 'AUTH_FORBIDDEN']);
  });

  test('a client pushes a change and a replay of it; malformed pushes are 400 naming the field, a pull-only token 403; nothing written', async () => {
    const { checkpoint } = await (await post({})).json() as PulledChanges;
    const body = { clientId: 'phone', mutationId: 'm-1', checkpoint, changes: [{ model: 'PhNote', id: 8, doc: { text: 'note 8' } }, { model: 'PhNote', id: 1, deleted: true }] };
    const pushed = await post(body, PUSHER, 'push');
    assert.is(pushed.status, 200);
    assert.equal(await pushed.json() as PushResult, { replayed: false, results: [{ model: 'PhNote', id: 8, status: 'created' }, { model: 'PhNote', id: 1, status: 'deleted' }] });
    assert.equal(((await (await post(body, PUSHER, 'push')).json()) as PushResult).replayed, true);
    const notes = async () => (await orm.em.fork().find(PhNote, {}, { orderBy: { id: 'asc' } })).map((note) => note.id);
    assert.equal(await notes(), [2, 3, 4, 5, 6, 7, 8]);
    for (const [bad, field] of [[{ ...body, mutationId: '' }, 'mutationId'], [{ ...body, changes: [{ model: 'PhNote' }] }, 'id'], [{ clientId: 'phone' }, 'mutationId']] as const) {
      const answer = await refusal(await post(bad, PUSHER, 'push'));
      assert.equal([answer.status, answer.code], [400, 'REQUEST_INVALID'], JSON.stringify(bad));
      assert.match(answer.message, field);
    }
    const strange = await refusal(await post({ ...body, mutationId: 'm-2', changes: [{ model: 'PhNote', id: 9, doc: { colour: 'red' } }] }, PUSHER, 'push'));
    assert.equal([strange.status, strange.code], [400, 'PUSH_CHANGE_INVALID']);
    const secret = await refusal(await post({ ...body, mutationId: 'm-3', changes: [{ model: 'PhSecret', id: 1, deleted: true }] }, PUSHER, 'push'));
    assert.equal([secret.status, secret.code], [403, 'PUSH_PULL_MODEL_NOT_SERVED']);
    const pullOnly = await refusal(await post({ ...body, mutationId: 'm-4' }, PULLER, 'push'));
    assert.equal([pullOnly.status, pullOnly.code], [403, 'AUTH_FORBIDDEN']);
    assert.equal(await notes(), [2, 3, 4, 5, 6, 7, 8]);
  });

  test.run();
}
