import { EntitySync, exportGraph, importGraph, type ExportReport } from '@entity-sync/adapters/mikro-orm';
import type { GraphDocument } from '@entity-sync/core';
import { runSqlFile, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chinookEntities, chinookSqlPath, chinookStart, Customer, Playlist } from '../fixtures/chinook/entities.js';
import { tableChecksums } from '../support/checksums.js';

const roots = [
  { entity: Customer, key: 1 }, { entity: Customer, key: 5 }, { entity: Customer, key: 12 },
  { entity: Playlist, key: 3 }, { entity: Playlist, key: 17 },
];

/** Every row of a table as the text of its columns, in primary-key order, optionally only the given keys. */
async function tableRows(orm: MikroORM, table: string, columns: string[], primaryKey: string[], keys?: string[][]): Promise<string[]> {
  const schema = orm.config.get('schema') ?? 'public';
  const where = keys ? `WHERE (${primaryKey.map((c) => `t."${c}"::text`).join(', ')}) IN (SELECT * FROM unnest(${primaryKey.map((_, i) => `?::text[]`).join(', ')}))` : '';
  const params = keys ? primaryKey.map((_, i) => `{${keys.map((k) => `"${k[i]}"`).join(',')}}`) : [];
  const rows = await orm.em.getConnection().execute<{ r: string }[]>(
    `SELECT array_to_json(ARRAY[${columns.map((c) => `t."${c}"::text`).join(', ')}])::text AS r FROM "${schema}"."${table}" t ${where} ORDER BY ${primaryKey.map((c) => `t."${c}"`).join(', ')}`, params);
  return rows.map((row) => row.r);
}

for (const backend of testBackends()) {
  const test = suite(`export / import round trip on Chinook [${backend.name}]`);
  let source: MikroORM;
  let exported: ExportReport;
  let dir: string;

  test.before(async () => {
    source = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync], createSchema: false });
    await runSqlFile(backend, source, chinookSqlPath, { startAt: chinookStart });
    exported = await exportGraph(source.em.fork(), roots, { exportedAt: null });
    dir = mkdtempSync(join(tmpdir(), 'entity-sync-roundtrip-'));
  });
  test.after(async () => {
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('customers and playlists go to an empty database and come back as the same bytes, row by row', async () => {
    const target = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync] });
    try {
      const document = exported.document as GraphDocument;
      assert.equal(document.entities.map((e) => e.name), ['Artist', 'Album', 'Employee', 'Customer', 'Genre', 'Invoice', 'MediaType', 'Playlist', 'Track', 'InvoiceLine', 'playlist_track']);
      const report = await importGraph(target.em.fork(), document);
      assert.is(report.rows, exported.rows);
      for (const entity of document.entities) assert.is(report.entities[entity.name]!.created, entity.rows, entity.name);

      const again = await exportGraph(target.em.fork(), roots, { exportedAt: null });
      assert.is(again.text, exported.text);

      for (const entity of document.entities) {
        const columns = entity.columns.map((c) => c.name);
        const keyIndexes = entity.primaryKey.map((k) => columns.indexOf(k));
        const keys = document.data[entity.name]!.map((row) => keyIndexes.map((i) => row[i]!));
        const inSource = await tableRows(source, entity.table, columns, entity.primaryKey, keys);
        const inTarget = await tableRows(target, entity.table, columns, entity.primaryKey);
        assert.is(inTarget.length, entity.rows, `${entity.name} row count`);
        assert.equal(inTarget, inSource, `${entity.name} rows`);
        assert.equal(inTarget, document.data[entity.name]!.map((row) => JSON.stringify(row)), `${entity.name} rows as in the file`);
      }
    } finally {
      await target.close();
    }
  });

  test('the NDJSON encoding round-trips through a file to the same bytes', async () => {
    const target = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync] });
    try {
      const file = join(dir, 'graph.ndjson');
      const written = await exportGraph(source.em.fork(), roots, { exportedAt: null, format: 'ndjson', to: file });
      assert.is(written.text, undefined);
      const lines = readFileSync(file, 'utf8').split('\n');
      assert.is(JSON.parse(lines[0]!).encoding, 'ndjson');
      assert.is(lines.at(-2), '{"end":true}');
      assert.is(lines.length, 1 + written.header.entities.length + written.rows + 2);
      await importGraph(target.em.fork(), file);
      const file2 = join(dir, 'again.ndjson');
      await exportGraph(target.em.fork(), roots, { exportedAt: null, format: 'ndjson', to: file2 });
      assert.is(readFileSync(file2, 'utf8'), readFileSync(file, 'utf8'));
    } finally {
      await target.close();
    }
  });

  test("importing into the source with 'fail' reports every conflict and changes nothing", async () => {
    const before = await tableChecksums(source);
    const error = await importGraph(source.em.fork(), exported.document!).catch((e) => e);
    assert.is(error.code, 'IMPORT_CONFLICT');
    assert.is(error.info.conflicts.length, exported.rows);
    assert.ok(error.info.conflicts.every((c: { kind: string; differingColumns: string[] }) => c.kind === 'primaryKey' && c.differingColumns.length === 0));
    assert.match(error.message, `${exported.rows} row(s) of the document already exist in the target; nothing was imported`);
    assert.equal(await tableChecksums(source), before);
  });

  test("'remap' creates a complete second copy whose relations point only at the new rows", async () => {
    const scratch = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync], createSchema: false });
    try {
      await runSqlFile(backend, scratch, chinookSqlPath, { startAt: chinookStart });
      const before = await tableChecksums(scratch);
      const dry = await importGraph(scratch.em.fork(), exported.document!, { onConflict: 'remap', dryRun: true });
      assert.equal(await tableChecksums(scratch), before, 'the dry run changed nothing');
      const report = await importGraph(scratch.em.fork(), exported.document!, { onConflict: 'remap' });
      assert.equal({ ...dry, dryRun: false, statements: 0 }, { ...report, statements: 0 }, 'the dry run reported what the run did');

      const after = await tableChecksums(scratch);
      for (const entity of exported.header.entities) {
        assert.is(report.entities[entity.name]!.remapped, entity.rows, entity.name);
        assert.is(report.idMap[entity.name]!.length, entity.rows, `${entity.name} id map`);
        assert.is(Number(after[entity.table]!.split(':')[0]), Number(before[entity.table]!.split(':')[0]) + entity.rows, `${entity.table} grew by the copy`);
      }
      // export the copy from its new roots: the same shape, and not one row of the original
      const newRoots = exported.header.roots.map((root) => ({
        entity: root.entity, key: report.idMap[root.entity]!.find(([old]) => old[0] === root.key[0])![1],
      }));
      const copy = await exportGraph(scratch.em.fork(), newRoots, { exportedAt: null });
      assert.equal(copy.header.entities.map((e) => `${e.name}:${e.rows}`), exported.header.entities.map((e) => `${e.name}:${e.rows}`));
      for (const entity of copy.header.entities) {
        const keyIndexes = entity.primaryKey.map((k) => entity.columns.findIndex((c) => c.name === k));
        const newKeys = new Set(report.idMap[entity.name]!.map(([, now]) => JSON.stringify(now)));
        for (const row of copy.document!.data[entity.name]!) {
          assert.ok(newKeys.has(JSON.stringify(keyIndexes.map((i) => row[i]))), `${entity.name} ${JSON.stringify(row)} is a new row`);
        }
      }
    } finally {
      await scratch.close();
    }
  });

  test('a dry run changes nothing and reports exactly what the real run then does', async () => {
    const target = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync] });
    try {
      const before = await tableChecksums(target);
      const dry = await importGraph(target.em.fork(), exported.document!, { dryRun: true });
      assert.equal(await tableChecksums(target), before);
      assert.is(dry.dryRun, true);
      const real = await importGraph(target.em.fork(), exported.document!);
      assert.equal({ ...dry, dryRun: false, statements: 0 }, { ...real, statements: 0 });
      assert.is.not(await tableChecksums(target), before);
    } finally {
      await target.close();
    }
  });

  test('the walk is set-based: 1 customer and 20 customers take the same statements', async () => {
    const one = await exportGraph(source.em.fork(), { entity: Customer, key: 1 });
    const many = await exportGraph(source.em.fork(), Array.from({ length: 20 }, (_, i) => ({ entity: Customer, key: i + 1 })));
    assert.ok(many.rows > 10 * one.rows, `${many.rows} rows vs ${one.rows}`);
    assert.is(many.statements, one.statements);
    const allPlaylists = await exportGraph(source.em.fork(), Array.from({ length: 18 }, (_, i) => ({ entity: Playlist, key: i + 1 })));
    const onePlaylist = await exportGraph(source.em.fork(), { entity: Playlist, key: 18 });
    assert.ok(allPlaylists.rows > 100 * onePlaylist.rows);
    // the 18 playlists are the whole table: what they own is whole tables too, found with fewer statements
    assert.ok(allPlaylists.statements <= onePlaylist.statements, `${allPlaylists.statements} statements for every playlist, ${onePlaylist.statements} for one`);
  });

  test('follow, exclude, maxDepth and maxRows shape the graph; bad roots fail clearly', async () => {
    const em = () => source.em.fork();
    const artist = await exportGraph(em(), { entity: 'Artist', key: 1 });
    assert.ok(artist.header.entities.some((e) => e.name === 'InvoiceLine'));
    const withoutSales = await exportGraph(em(), { entity: 'Artist', key: 1 }, { excludeRelations: ['Track<-InvoiceLine.track'] });
    assert.not.ok(withoutSales.header.entities.some((e) => ['InvoiceLine', 'Invoice', 'Customer'].includes(e.name)));
    const albumsOnly = await exportGraph(em(), { entity: 'Artist', key: 1 }, { maxDepth: 1 });
    assert.equal(albumsOnly.header.entities.map((e) => e.name), ['Artist', 'Album']);
    const album = await exportGraph(em(), { entity: 'Album', key: 1 }, { excludeRelations: ['Album<-Track.album'] });
    assert.equal(album.header.entities.map((e) => `${e.name}:${e.rows}`), ['Artist:1', 'Album:1']);
    // a needed artist does not bring its other albums, unless the relation is followed
    const track = await exportGraph(em(), { entity: 'Track', key: 1 }, { excludeRelations: ['Track<-InvoiceLine.track', 'Track<-playlist_track.Track_inverse'] });
    assert.is(track.header.entities.find((e) => e.name === 'Album')!.rows, 1);
    const followed = await exportGraph(em(), { entity: 'Track', key: 1 }, { excludeRelations: ['Track<-InvoiceLine.track', 'Track<-playlist_track.Track_inverse'], follow: ['Artist<-Album.artist'] });
    assert.ok(followed.header.entities.find((e) => e.name === 'Album')!.rows > 1);

    const tooLarge = await exportGraph(em(), { entity: Playlist, key: 1 }, { maxRows: 500 }).catch((e) => e);
    assert.is(tooLarge.code, 'GRAPH_TOO_LARGE');
    assert.match(tooLarge.message, /The graph passed maxRows \(500\): \d+ rows so far, \d+ of them through Playlist<-playlist_track\.Playlist_owner\./);
    assert.match(tooLarge.message, "excludeRelations: ['Playlist<-playlist_track.Playlist_owner']");
    const missing = await exportGraph(em(), { entity: Customer, key: 4242 }).catch((e) => e);
    assert.is(missing.code, 'ROOT_NOT_FOUND');
    const unknown = await exportGraph(em(), { entity: 'Artist', key: 1 }, { excludeRelations: ['Artist.songs'] }).catch((e) => e);
    assert.is(unknown.code, 'GRAPH_UNKNOWN_RELATION');
  });

  test.run();
}
