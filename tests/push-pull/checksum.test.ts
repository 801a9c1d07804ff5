// Checksums per model: what a client computes over its copy (documentsChecksum) equals what the
// server answers (POST /checksum, modelChecksums) exactly when the copy holds the rows the
// caller may pull, as they are now; a change the client has not pulled yet makes them differ.
import 'reflect-metadata';
import { createHttpHandler, staticTokenAuth } from '@entity-sync/adapters/http';
import { CURRENT_USER, EntitySync, grantPermissions, installPushPull, modelChecksums, pullChanges, pushPullRoutes, type PulledChanges } from '@entity-sync/adapters/mikro-orm';
import { documentsChecksum, SyncModel, type DocumentsChecksum } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, type Served } from '../http/serve.js';

@Entity({ tableName: 'cs_entry' })
@SyncModel()
class CsEntry {
  @PrimaryKey() id!: number;
  @Property() owner!: string;
  @Property({ type: 'json', nullable: true }) tags?: { name: string; weight: number }[] | null;
  @Property({ columnType: 'timestamptz' }) at!: Date;
}

const TOKEN = 'checksum-token-0123456789abcdef';

for (const backend of testBackends()) {
  const test = suite(`push/pull: checksums per model [${backend.name}]`);
  let orm: MikroORM;
  let server: Served;

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [CsEntry], extensions: [EntitySync] });
    const em = orm.em.fork();
    for (let id = 1; id <= 12; id++) {
      em.create(CsEntry, { id, owner: id % 3 ? 'ada' : 'bob', tags: id % 2 ? [{ name: `t${id}`, weight: id / 4 }] : null, at: new Date(Date.UTC(2026, 0, id, 12, 30)) });
    }
    await em.flush();
    await installPushPull(orm.em.fork());
    server = await serve(createHttpHandler({ prefix: '/sync', auth: staticTokenAuth({ token: TOKEN }), routes: pushPullRoutes(orm) }), 'node');
  });
  test.after.each(async () => {
    await server.close();
    await orm.close();
  });

  const post = async <T>(path: string, body: object): Promise<T> => {
    const response = await fetch(`${server.url}/sync/${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 200, path);
    return await response.json() as T;
  };

  test('a pulled copy has the server\'s checksum; a change not yet pulled makes them differ; the next pull makes them equal', async () => {
    const copy = new Map<unknown, Record<string, unknown>>();
    let checkpoint: string | null = null;
    const pullAll = async () => {
      for (let more = true; more;) {
        const answer: PulledChanges = await post('pull', { checkpoint, limit: 5 });
        for (const change of answer.changes) {
          for (const doc of change.upserted) copy.set(doc.id, { ...doc, _deleted: false });
          for (const id of change.deleted) copy.delete(id);
        }
        ({ checkpoint, hasMore: more } = answer);
      }
    };
    await pullAll();
    const server1 = await post<Record<string, DocumentsChecksum>>('checksum', {});
    assert.equal(server1.CsEntry, documentsChecksum(copy.values()), 'the client\'s own fields (_deleted) do not count');
    assert.equal(server1.CsEntry?.count, 12);
    await orm.em.fork().nativeUpdate(CsEntry, { id: 4 }, { tags: [{ name: 'new', weight: 1 }] });
    await orm.em.fork().nativeDelete(CsEntry, { id: 5 });
    const server2 = await post<Record<string, DocumentsChecksum>>('checksum', { models: ['CsEntry'] });
    assert.not.equal(server2.CsEntry?.checksum, documentsChecksum(copy.values()).checksum);
    await pullAll();
    assert.equal(server2.CsEntry, documentsChecksum(copy.values()));
    assert.equal(server2.CsEntry?.count, 11);
  });

  test('with roles the checksum covers the rows the user may pull, as their pull does', async () => {
    await grantPermissions(orm.em.fork(), { role: 'member', model: 'CsEntry', pull: true, filters: [{ field: 'owner', op: 'eq', value: CURRENT_USER }] });
    const access = { user: 'bob', roles: ['member'] };
    const answer = await pullChanges(orm.em.fork(), { access, limit: 100 });
    const docs = answer.changes.flatMap((change) => change.upserted);
    const sums = await modelChecksums(orm.em.fork(), { access });
    assert.equal(sums.CsEntry, documentsChecksum(docs));
    assert.equal(sums.CsEntry?.count, 4);
  });

  test('more rows than a page of the server\'s reading (10,000): the checksum counts each row once', async () => {
    const table = `"${orm.config.get('schema') ?? 'public'}".cs_entry`;
    await orm.em.getConnection().execute(`insert into ${table} (id, owner, tags, at) select i, 'ada', null, timestamptz '2026-01-01' + i * interval '1 minute' from generate_series(100, 20104) i`);
    const docs: Record<string, unknown>[] = [];
    let checkpoint: string | null = null;
    for (let more = true; more;) {
      const answer: PulledChanges = await pullChanges(orm.em.fork(), { checkpoint, limit: 10_000 });
      docs.push(...answer.changes.flatMap((change) => change.upserted));
      ({ checkpoint, hasMore: more } = answer);
    }
    assert.is(docs.length, 12 + 20_005);
    const { CsEntry: sum } = await modelChecksums(orm.em.fork(), {});
    assert.equal(sum, documentsChecksum(docs));
  });

  test.run();
}
