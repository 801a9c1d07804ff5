// Horizontal scale: two instances of the sync API, each a process of its own (./fixtures/sync-server.ts:
// its own ORM, connection pool and LISTEN connection, on its own port), against one PostgreSQL
// database. A client that switches between them at every page while writers commit through both
// misses nothing (its copy's checksum is the server's), a write through either reaches the live
// clients of both, and when one instance is killed (SIGKILL) mid-sync, the client goes on with the
// other: a push it retries there is applied once, and its copy still ends equal. Real PostgreSQL
// only: one database shared by two servers is what it is about.
import 'reflect-metadata';
import { EntitySync, installPushPull, type PulledChanges } from '@entity-sync/adapters/mikro-orm';
import { documentsChecksum, type DocumentsChecksum } from '@entity-sync/core';
import { testBackends, until } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { EventSource } from 'eventsource';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { killAfter, SERVER_DEADLINE_MS } from '../support/child-deadline.js';
import { TiCard } from './fixtures/cards.js';

// the TypeScript hook of the processes the tests spawn (a file path: strip the leading slashes of a file URL's)
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');
const root = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'two-instances-token-0123456789abcdef';
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

interface Instance { url: string; child: ChildProcess; exited: Promise<void>; output: () => string }

/** Starts a server process on the ORM's database and schema, and resolves once it listens. */
async function startInstance(orm: MikroORM): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', TS_REGISTER, join(root, 'tests/push-pull/fixtures/sync-server.ts')], {
    cwd: root, env: { ...process.env, PP_DATABASE_URL: orm.config.get('clientUrl'), PP_SCHEMA: orm.config.get('schema') ?? 'public', PP_TOKEN: TOKEN },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  let gone = false;
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    gone = true;
    resolve();
  }));
  killAfter(child, SERVER_DEADLINE_MS, 'sync-server.ts', () => ({ stdout, stderr }), (error) => console.error(error.message));
  await until('the sync server listens', () => {
    if (gone) throw new Error(`the sync server exited:\n${stderr}`);
    return /listening \d+/.test(stdout);
  }, 60_000, 50);
  return { url: `http://127.0.0.1:${/listening (\d+)/.exec(stdout)![1]}/sync`, child, exited, output: () => `${stdout}\n${stderr}` };
}

for (const backend of testBackends().filter((candidate) => candidate.name === 'postgres')) {
  const test = suite(`push/pull: two instances in two processes against one database [${backend.name}]`);
  let orm: MikroORM;
  let instances: Instance[] = [];
  const sources: EventSource[] = [];

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [TiCard], extensions: [EntitySync] });
    const em = orm.em.fork();
    for (let id = 1; id <= 20; id++) em.create(TiCard, { id, text: `card ${id}` });
    await em.flush();
    await installPushPull(orm.em.fork());
    instances = await Promise.all([startInstance(orm), startInstance(orm)]);
  });
  test.after.each(async () => {
    for (const source of sources.splice(0)) source.close();
    for (const instance of instances) {
      instance.child.kill('SIGTERM');
      await instance.exited;
    }
    await orm.close();
  });

  const post = async <T>(instance: Instance, path: string, body: object): Promise<T> => {
    const response = await fetch(`${instance.url}/${path}`, { method: 'POST', body: JSON.stringify(body), headers, signal: AbortSignal.timeout(20_000) });
    assert.equal(response.status, 200, `${path}: ${response.status}`);
    return await response.json() as T;
  };

  /** A client's copy, pulled page by page from the instance `via` picks for each page. */
  const client = () => {
    const copy = new Map<unknown, Record<string, unknown>>();
    let checkpoint: string | null = null;
    return {
      copy,
      async pullPage(instance: Instance): Promise<boolean> {
        const answer: PulledChanges = await post(instance, 'pull', { checkpoint, limit: 3 });
        for (const change of answer.changes) {
          for (const doc of change.upserted) copy.set(doc.id, doc);
          for (const id of change.deleted) copy.delete(id);
        }
        checkpoint = answer.checkpoint;
        return answer.hasMore;
      },
    };
  };

  test('a client switching instances at every page while both take writes ends with the server\'s rows', async () => {
    const reader = client();
    let page = 0;
    // writes through both instances between the pages: pushes, app writes, deletes
    for (let round = 0; round < 8; round++) {
      await post(instances[round % 2]!, 'push', { clientId: `writer-${round % 2}`, mutationId: `m${round}`, checkpoint: null,
        changes: [{ model: 'TiCard', id: 100 + round, doc: { text: `pushed ${round}` } }] });
      await orm.em.fork().nativeUpdate(TiCard, { id: 1 + round }, { text: `changed in round ${round}` });
      if (round % 3 === 0) await orm.em.fork().nativeDelete(TiCard, { id: 20 - round });
      await reader.pullPage(instances[page++ % 2]!);
    }
    while (await reader.pullPage(instances[page++ % 2]!));
    const server = await post<Record<string, DocumentsChecksum>>(instances[1]!, 'checksum', {});
    assert.equal(documentsChecksum(reader.copy.values()), server.TiCard);
    assert.equal(server.TiCard?.count, 20 + 8 - 3);
  });

  test('a write through either instance reaches the live clients of both', async () => {
    const seen: { instance: number; event: string; data: string }[] = [];
    for (const [index, instance] of instances.entries()) {
      const source = new EventSource(`${instance.url}/pull/stream`, {
        fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${TOKEN}` } }),
      });
      for (const event of ['resync', 'change']) source.addEventListener(event, (message) => seen.push({ instance: index, event, data: message.data }));
      sources.push(source);
    }
    await until('both clients connected', () => seen.filter((item) => item.event === 'resync').length === 2, 10_000);
    const changesOf = (instance: number) => seen.filter((item) => item.instance === instance && item.event === 'change').length;
    for (const [round, through] of [0, 1, 0].entries()) {
      const before = [changesOf(0), changesOf(1)];
      await post(instances[through]!, 'push', { clientId: 'c', mutationId: `live-${round}`, checkpoint: null, changes: [{ model: 'TiCard', id: 200 + round, doc: { text: 'live' } }] });
      await until(`round ${round}: both clients told of the write through instance ${through}`, () => changesOf(0) > before[0]! && changesOf(1) > before[1]!, 10_000);
    }
    assert.ok(seen.filter((item) => item.event === 'change').every((item) => JSON.parse(item.data).models.includes('TiCard')));
  });

  test('an instance killed mid-sync (SIGKILL): the client goes on with the other, a retried push is applied once, its copy ends equal, live clients of the other still hear', async () => {
    const [doomed, survivor] = instances as [Instance, Instance];
    const reader = client();
    await reader.pullPage(doomed);
    await reader.pullPage(survivor);
    // a live client on the survivor
    const heard: string[] = [];
    const source = new EventSource(`${survivor.url}/pull/stream`, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init?.headers, authorization: `Bearer ${TOKEN}` } }),
    });
    source.addEventListener('change', (message) => heard.push(message.data));
    source.addEventListener('resync', () => heard.push('resync'));
    sources.push(source);
    await until('the live client connected', () => heard.includes('resync'), 10_000);
    // a push is sent to the doomed instance, which dies while it may be answering
    const push = { clientId: 'phone', mutationId: 'kill-1', checkpoint: null, changes: [{ model: 'TiCard', id: 300, doc: { text: 'pushed before the kill' } }] };
    const sent = fetch(`${doomed.url}/push`, { method: 'POST', body: JSON.stringify(push), headers }).then((response) => response.status, () => 'no answer');
    doomed.child.kill('SIGKILL');
    await doomed.exited;
    await sent;
    // the client does not know whether it went through: it sends the same mutation to the survivor
    const retried = await post<{ replayed: boolean; results: { status: string }[] }>(survivor, 'push', push);
    assert.equal(retried.results.map((result) => result.status), ['created']);
    assert.equal(await orm.em.fork().count(TiCard, { id: 300 }), 1);
    const again = await post<{ replayed: boolean }>(survivor, 'push', push);
    assert.ok(again.replayed, 'a second retry is a replay');
    await until('the live client heard of the push', () => heard.some((data) => data !== 'resync'), 10_000);
    await orm.em.fork().nativeUpdate(TiCard, { id: 5 }, { text: 'after the kill' });
    while (await reader.pullPage(survivor));
    const server = await post<Record<string, DocumentsChecksum>>(survivor, 'checksum', {});
    assert.equal(documentsChecksum(reader.copy.values()), server.TiCard);
    assert.equal(reader.copy.get(5)?.text, 'after the kill');
    assert.equal(reader.copy.get(300)?.text, 'pushed before the kill');
  });

  test.run();
}
