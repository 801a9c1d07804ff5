import { deleteGraph, EntitySync, importGraph } from '@entity-sync/adapters/mikro-orm';
import { runSqlFile, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Artist, chinookEntities, chinookSqlPath, chinookStart, Employee } from '../fixtures/chinook/entities.js';
import { tableChecksums } from '../support/checksums.js';

for (const backend of testBackends()) {
  const test = suite(`deleteGraph on Chinook [${backend.name}]`);
  let orm: MikroORM;
  let dir: string;
  const sql = async <T>(query: string) => orm.em.getConnection().execute<T[]>(query.replaceAll('$s', `"${orm.config.get('schema') ?? 'public'}"`));

  test.before(async () => {
    orm = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync], createSchema: false });
    await runSqlFile(backend, orm, chinookSqlPath, { startAt: chinookStart });
    dir = mkdtempSync(join(tmpdir(), 'entity-sync-delete-'));
  });
  test.after(async () => {
    await orm.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the plan of deleting an artist names the invoice lines of other customers that go with its tracks', async () => {
    const before = await tableChecksums(orm);
    const plan = await deleteGraph(orm.em.fork(), { entity: Artist, key: 1 }, { dryRun: true });
    assert.equal(await tableChecksums(orm), before, 'a dry run changes nothing');

    const expected = async (query: string) => Number((await sql<{ n: number }>(query))[0]!.n);
    const tracks = `select t.track_id from $s.track t join $s.album a on a.album_id = t.album_id where a.artist_id = 1`;
    assert.equal(plan.entities, {
      Artist: 1,
      Album: await expected(`select count(*)::int as n from $s.album where artist_id = 1`),
      Track: await expected(`select count(*)::int as n from (${tracks}) x`),
      InvoiceLine: await expected(`select count(*)::int as n from $s.invoice_line where track_id in (${tracks})`),
      playlist_track: await expected(`select count(*)::int as n from $s.playlist_track where track_id in (${tracks})`),
    });
    const lines = plan.outside.find((effect) => effect.entity === 'InvoiceLine');
    assert.ok(lines, 'invoice lines are listed as going because of a key outside the graph');
    assert.is(lines!.via, 'Track<-InvoiceLine.track');
    assert.is(lines!.rows, plan.entities.InvoiceLine);
    const lineKeys = await sql<{ k: string }>(`select invoice_line_id::text as k from $s.invoice_line where track_id in (${tracks}) order by invoice_line_id`);
    assert.equal(lines!.sample.map((key) => key[0]), lineKeys.slice(0, 20).map((row) => row.k));
    assert.equal(lines!.outside, [{ relation: 'InvoiceLine.invoice', entity: 'Invoice',
      rows: await expected(`select count(distinct invoice_id)::int as n from $s.invoice_line where track_id in (${tracks})`) }]);
    const links = plan.outside.find((effect) => effect.entity === 'playlist_track');
    assert.equal(links?.outside.map((o) => o.entity), ['Playlist']);
    // tracks belong to their albums; the media types and genres they point at are shared reference data
    assert.not.ok(plan.outside.some((effect) => effect.entity === 'Track' || effect.entity === 'Album'));
  });

  test('archive, delete, then import of the archive restores the database exactly', async () => {
    const before = await tableChecksums(orm);
    const archive = join(dir, 'artist-1.ndjson');
    const report = await deleteGraph(orm.em.fork(), { entity: Artist, key: 1 }, { archiveTo: archive, archiveFormat: 'ndjson' });
    assert.is(report.archived, report.rows);
    const after = await tableChecksums(orm);
    for (const [table, rows] of Object.entries({ artist: 1, album: report.entities.Album!, track: report.entities.Track!,
      invoice_line: report.entities.InvoiceLine!, playlist_track: report.entities.playlist_track! })) {
      assert.is(Number(after[table]!.split(':')[0]), Number(before[table]!.split(':')[0]) - rows, `${table} lost exactly the planned rows`);
    }
    for (const shared of ['genre', 'media_type', 'invoice', 'customer', 'playlist', 'employee']) {
      assert.is(after[shared], before[shared], `${shared} is untouched`);
    }
    const restored = await importGraph(orm.em.fork(), archive);
    assert.is(restored.rows, report.rows);
    assert.equal(await tableChecksums(orm), before);
  });

  test('excluded nullable relations keep their rows with the key set to NULL', async () => {
    const before = await tableChecksums(orm);
    const plan = await deleteGraph(orm.em.fork(), { entity: Employee, key: 2 }, {
      dryRun: true, excludeRelations: ['Employee.reports', 'Employee<-Customer.supportRep'],
    });
    assert.equal(plan.entities, { Employee: 1 });
    const reports = Number((await sql<{ n: number }>(`select count(*)::int as n from $s.employee where reports_to = 2`))[0]!.n);
    assert.ok(reports > 0);
    assert.equal(plan.setNull.find((entry) => entry.relation === 'Employee.reportsTo'), { relation: 'Employee.reportsTo', entity: 'Employee', rows: reports });
    assert.equal(await tableChecksums(orm), before);

    // without the exclusions the manager's reports, their customers and the customers' invoices go too
    const cascade = await deleteGraph(orm.em.fork(), { entity: Employee, key: 2 }, { dryRun: true });
    assert.ok(cascade.entities.Employee! > 1);
    assert.ok((cascade.entities.Invoice ?? 0) > 0);
    assert.ok(cascade.rows > plan.rows);
  });

  test('a delete that fails midway leaves everything as it was', async () => {
    const before = await tableChecksums(orm);
    const controller = new AbortController();
    let deletes = 0;
    const failure = await deleteGraph(orm.em.fork(), { entity: Artist, key: 22 }, {
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.phase === 'delete' && ++deletes === 2) controller.abort(new Error('stopped by the test'));
      },
    }).then(() => undefined, (error: Error & { code?: string }) => error);
    assert.is(failure?.code, 'OPERATION_ABORTED');
    assert.is((failure?.cause as Error).message, 'stopped by the test');
    assert.equal(await tableChecksums(orm), before);
  });

  test.run();
}
