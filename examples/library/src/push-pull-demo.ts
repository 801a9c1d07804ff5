import { createHttpHandler, jwtAuth, tokenRoutes } from '@entity-sync/adapters/http';
import { toNodeListener } from '@entity-sync/adapters/http/node';
import { grantPermissions, installPushPull, pullStreamRoutes, pushPullRoutes, type PulledChanges, type PushResult } from '@entity-sync/adapters/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Tag } from './entities/index.js';

/**
 * The push/pull sync API: a client signs in (`POST /auth/token`), pulls the tags in pages with its
 * checkpoint, pushes a new tag and a rename, is told live (`GET /pull/stream`) of a change the app
 * makes, and pulls it. The role `editor` may pull, create and update tags, not delete them.
 */
export async function syncClientOverHttp(orm: MikroORM, log: (line: string) => void): Promise<void> {
  const secret = randomBytes(32).toString('hex');
  await installPushPull(orm.em.fork(), { models: ['Tag'] });
  await grantPermissions(orm.em.fork(), { role: 'editor', model: 'Tag', pull: true, push: true, create: true, update: true });
  const live = pullStreamRoutes(orm, { models: ['Tag'] });
  const handler = createHttpHandler({
    prefix: '/sync', auth: jwtAuth({ secret, algorithms: ['HS256'], issuer: 'library', audience: 'sync' }),
    routes: [
      tokenRoutes({ secret, issuer: 'library', audience: 'sync', verify: ({ username, password }) => username === 'ada' && password === 'demo'
        ? { subject: 'ada', rights: ['push-pull:pull', 'push-pull:push'], roles: ['editor'] } : null }),
      pushPullRoutes(orm, { models: ['Tag'], permissions: true }),
      live,
    ],
  });
  const server = createServer(toNodeListener(handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sync`;
  const abort = new AbortController();
  try {
    const { token } = await (await fetch(`${url}/auth/token`, { method: 'POST', body: JSON.stringify({ username: 'ada', password: 'demo' }), headers: { 'content-type': 'application/json' } })).json() as { token: string };
    const post = async <T>(path: string, body: object): Promise<T> =>
      (await fetch(`${url}/${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } })).json() as Promise<T>;
    const copy = new Map<unknown, Record<string, unknown>>();
    let checkpoint: string | null = null;
    const pullAll = async () => {
      let pages = 0;
      for (let more = true; more; pages++) {
        const answer: PulledChanges = await post('pull', { checkpoint, limit: 2 });
        for (const change of answer.changes) {
          for (const doc of change.upserted) copy.set(doc.id, doc);
          for (const id of change.deleted) copy.delete(id);
        }
        ({ checkpoint, hasMore: more } = answer);
      }
      return pages;
    };
    const pages = await pullAll();
    log(`push/pull: ada signed in (role editor) and pulled ${copy.size} tags in ${pages} pages: ${[...copy.values()].map((tag) => tag.name).sort().join(', ')}`);
    const renamed = [...copy.values()].find((tag) => tag.name === 'novel')!;
    const pushed = await post<PushResult>('push', { clientId: 'ada-laptop', mutationId: 'demo-1', checkpoint, changes: [
      { model: 'Tag', id: 900, doc: { name: 'drama' } },
      { model: 'Tag', id: renamed.id, doc: { name: 'novels' } },
      { model: 'Tag', id: renamed.id === 1 ? 2 : 1, deleted: true },
    ] });
    log(`  pushed: ${pushed.results.map((result) => `${result.id} ${result.status}${result.reason ? ` (${result.reason})` : ''}`).join(', ')}`);
    // the live stream says when to pull: the app renames a tag, and the client hears of it
    const stream = await fetch(`${url}/pull/stream`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    const events = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    const next = async (name: string) => {
      for (let text = ''; !text.includes(`event: ${name}`);) text += (await events.read()).value ?? '';
    };
    await next('resync');
    const app = orm.em.fork();
    const classic = await app.findOneOrFail(Tag, { name: 'classic' });
    classic.name = 'classics';
    await app.flush();
    await next('change');
    await pullAll();
    log(`  told live of the app's rename, pulled again: ${[...copy.values()].map((tag) => tag.name).sort().join(', ')}`);
  } finally {
    abort.abort();
    await live.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
