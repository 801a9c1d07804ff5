// Horizontal scale: two instances of the sync API (each its own ORM, connection pool and LISTEN
// connection, on its own port) against one PostgreSQL database. A client that switches between
// them at every page while writers commit through both misses nothing (its copy's checksum is the
// server's), and a write through either reaches the live clients of both. Real PostgreSQL only:
// one database shared by two servers is what it is about.
import 'reflect-metadata';
import { createHttpHandler, staticTokenAuth } from '@entity-sync/adapters/http';
import { EntitySync, installPushPull, pullStreamRoutes, pushPullRoutes, type LiveStreamRoutes, type PulledChanges } from '@entity-sync/adapters/mikro-orm';
import { documentsChecksum, SyncModel, type DocumentsChecksum } from '@entity-sync/core';
import { testBackends, until } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { EventSource } from 'eventsource';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';

@Entity({ tableName: 'ti_card' })
@SyncModel()
class TiCard {
  @PrimaryKey() id!: number;
  @Property() text!: string;
}

const TOKEN = 'two-instances-token-0123456789abcdef';
const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };

interface Instance { orm: MikroORM; live: LiveStreamRoutes; server: Served }

for (const backend of testBackends().filter((candidate) => candidate.name === 'postgres')) {
  const test = suite(`push/pull: two instances against one database [${backend.name}]`);
  let first: MikroORM;
  const instances: Instance[] = [];
  const sources: EventSource[] = [];

  const start = async (orm: MikroORM): Promise<Instance> => {
    const live = pullStreamRoutes(orm, { heartbeatMs: 60_000 });
    const server = await serve(createHttpHandler({ prefix: '/sync', auth: staticTokenAuth({ token: TOKEN }), routes: [pushPullRoutes(orm), live] }), 'node');
    const instance = { orm, live, server };
    instances.push(instance);
    return instance;
  };

  test.before.each(async () => {
    first = await backend.createOrm({ entities: [TiCard], extensions: [EntitySync] });
    const em = first.em.fork();
    for (let id = 1; id <= 20; id++) em.create(TiCard, { id, text: `card ${id}` });
    await em.flush();
    await installPushPull(first.em.fork());
    const second = await MikroORM.init({
      driver: PostgreSqlDriver, clientUrl: first.config.get('clientUrl'), metadataProvider: ReflectMetadataProvider, entities: [TiCard], extensions: [EntitySync],
    } as never);
    await start(first);
    await start(second);
  });
  test.after.each(async () => {
    for (const source of sources.splice(0)) source.close();
    for (const { orm, live, server } of instances.splice(0)) {
      await live.close();
      await server.close();
      await orm.close();
    }
  });

  const post = async <T>(instance: Instance, path: string, body: object): Promise<T> => {
    const response = await fetch(`${instance.server.url}/sync/${path}`, { method: 'POST', body: JSON.stringify(body), headers });
    assert.equal(response.status, 200, `${path}: ${response.status}`);
    return await response.json() as T;
  };

  test('a client switching instances at every page while both take writes ends with the server\'s rows', async () => {
    const copy = new Map<unknown, Record<string, unknown>>();
    let checkpoint: string | null = null;
    let page = 0;
    const pullPage = async () => {
      const answer: PulledChanges = await post(instances[page++ % 2]!, 'pull', { checkpoint, limit: 3 });
      for (const change of answer.changes) {
        for (const doc of change.upserted) copy.set(doc.id, doc);
        for (const id of change.deleted) copy.delete(id);
      }
      checkpoint = answer.checkpoint;
      return answer.hasMore;
    };
    // writes through both instances between the pages: pushes, app writes, deletes, in transactions of each
    for (let round = 0; round < 8; round++) {
      const through = instances[round % 2]!;
      await post(through, 'push', { clientId: `writer-${round % 2}`, mutationId: `m${round}`, checkpoint: null,
        changes: [{ model: 'TiCard', id: 100 + round, doc: { text: `pushed ${round}` } }] });
      await through.orm.em.fork().nativeUpdate(TiCard, { id: 1 + round }, { text: `changed in round ${round}` });
      if (round % 3 === 0) await through.orm.em.fork().nativeDelete(TiCard, { id: 20 - round });
      await pullPage();
    }
    while (await pullPage());
    const server = await post<Record<string, DocumentsChecksum>>(instances[1]!, 'checksum', {});
    assert.equal(documentsChecksum(copy.values()), server.TiCard);
    assert.equal(server.TiCard?.count, 20 + 8 - 3);
  });

  test('a write through either instance reaches the live clients of both', async () => {
    const seen: { instance: number; event: string; data: string }[] = [];
    for (const [index, instance] of instances.entries()) {
      const source = new EventSource(`${instance.server.url}/sync/pull/stream`, {
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

  test.run();
}
