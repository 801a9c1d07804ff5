import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHttpHandler, staticTokenAuth } from '@entity-sync/adapters/http';
import { toNodeListener } from '@entity-sync/adapters/http/node';
import { envSyncRoutes, exportReferenceData, pullFrom, pullReferenceData } from '@entity-sync/adapters/mikro-orm';
import { LocalDirectoryStorage } from '@entity-sync/adapters/storage';
import type { PullReport } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { rejection } from '../support/discover.js';
import { Country, Language, openReferenceDb, seedSource, shiftSequences, updates } from './fixtures/reference-data.js';

// A pull over HTTP sends the source the digest of the rows the target holds per model; the source
// leaves out the rows of every model whose digest matches, so that an unchanged pull moves no rows.

const TOKEN = 'held-rows-test-token-0123456789';
const counts = (report: PullReport) => Object.fromEntries(report.models.map((m) => [m.model, [m.created, m.updated, m.deleted, m.unchanged]]));

for (const backend of testBackends()) {
  const test = suite(`environment sync: rows the target already holds do not travel [${backend.name}]`);
  let source: MikroORM;
  let target: MikroORM;
  let dirs: string[];
  let targetFiles: LocalDirectoryStorage;
  let server: Server;
  let url: string;
  // per export request: the rows it sent, by model
  let sent: Record<string, number>[];

  test.before.each(async () => {
    dirs = [await mkdtemp(join(tmpdir(), 'es-held-src-')), await mkdtemp(join(tmpdir(), 'es-held-dst-'))];
    const sourceFiles = new LocalDirectoryStorage(dirs[0]!);
    targetFiles = new LocalDirectoryStorage(dirs[1]!);
    source = await openReferenceDb(backend);
    target = await openReferenceDb(backend);
    const ref = await sourceFiles.write(createHash('sha256').update('terms').digest('hex'), Readable.from([Buffer.from('terms')]));
    await seedSource(source, ref);
    await shiftSequences(target);
    sent = [];
    const handler = createHttpHandler({ prefix: '/sync', auth: staticTokenAuth({ token: TOKEN }), routes: envSyncRoutes(source, { storage: sourceFiles }) });
    const counting = async (request: Request) => {
      const response = await handler(request);
      if (!new URL(request.url).pathname.endsWith('/export') || !response.ok) return response;
      const rows: Record<string, number> = {};
      sent.push(rows);
      const text = await response.text();
      for (const line of text.split('\n').filter(Boolean)) {
        const { m } = JSON.parse(line) as { m?: string };
        if (m) rows[m] = (rows[m] ?? 0) + 1;
      }
      return new Response(text, { status: response.status, headers: response.headers });
    };
    server = createServer(toNodeListener(counting as typeof handler));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sync`;
  });
  test.after.each(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await source.close();
    await target.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  const pull = () => pullFrom(target.em.fork(), url, { token: TOKEN, storage: targetFiles });

  test('a second, unchanged pull receives no row of a model without files, reports every row unchanged and writes nothing', async () => {
    await pull();
    assert.equal(sent[0], { Currency: 2, Country: 3, City: 4, Language: 4, CopyText: 2, EmailTemplate: 1 });
    const before = await updates(target);
    const report = await pull();
    assert.equal(counts(report), {
      Currency: [0, 0, 0, 2], Country: [0, 0, 0, 3], City: [0, 0, 0, 4], Language: [0, 0, 0, 4], CopyText: [0, 0, 0, 2], EmailTemplate: [0, 0, 0, 1],
    });
    assert.equal(sent[1], { EmailTemplate: 1 }, 'only the model with a file field (no digest) travels again');
    assert.equal(await updates(target), before);
  });

  test('a row changed at the source: its model travels and only that row is updated', async () => {
    await pull();
    const em = source.em.fork();
    (await em.findOneOrFail(Country, { code: 'DE' })).name = 'Deutschland';
    await em.flush();
    const report = await pull();
    assert.equal(counts(report).Country, [0, 1, 0, 2]);
    assert.equal(sent[1], { Country: 3, EmailTemplate: 1 });
    assert.is((await target.em.fork().findOneOrFail(Country, { code: 'DE' })).name, 'Deutschland');
  });

  test('a row changed in the target: its model travels again and the row is set back to the source\'s', async () => {
    await pull();
    const em = target.em.fork();
    (await em.findOneOrFail(Language, { code: 'de', country: { code: 'DE' } })).name = 'changed here';
    await em.flush();
    const report = await pull();
    assert.equal(counts(report).Language, [0, 1, 0, 3]);
    assert.equal(sent[1], { Language: 4, EmailTemplate: 1 });
    assert.is((await target.em.fork().findOneOrFail(Language, { code: 'de', country: { code: 'DE' } })).name, 'Deutsch');
  });

  test('a stream that says a model is unchanged when the target sent no digest of it is refused, nothing written', async () => {
    const lines: string[] = [];
    for await (const line of exportReferenceData(source.em.fork(), { models: ['Currency'] })) lines.push(line);
    const header = JSON.parse(lines[0]!) as { models: { unchanged?: number }[] };
    header.models[0]!.unchanged = 2;
    const forged = [JSON.stringify(header), JSON.stringify({ end: true, counts: {} })];
    const error = await rejection(pullReferenceData(target.em.fork(), (async function* () { yield* forged; })()));
    assert.is(error.code, 'ENV_SYNC_STREAM_INVALID');
    assert.match(error.message, /unchanged/);
    assert.is(await target.em.fork().count(Country, { code: 'CH' }), 0);
  });

  test.run();
}
