import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import type { GraphDocument } from '@entity-sync/core';
import { runSqlFile, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chinookEntities, chinookSqlPath, chinookStart, Playlist } from '../fixtures/chinook/entities.js';
import { tableChecksums } from '../support/checksums.js';

const clone = (document: GraphDocument): GraphDocument => JSON.parse(JSON.stringify(document));

for (const backend of testBackends()) {
  const test = suite(`broken documents fail typed and write nothing [${backend.name}]`);
  let source: MikroORM;
  let target: MikroORM;
  let json: string;
  let document: GraphDocument;
  let ndjson: string;
  let dir: string;

  test.before(async () => {
    source = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync], createSchema: false });
    await runSqlFile(backend, source, chinookSqlPath, { startAt: chinookStart });
    const exported = await exportGraph(source.em.fork(), { entity: Playlist, key: 17 });
    json = exported.text!;
    document = exported.document!;
    ndjson = (await exportGraph(source.em.fork(), { entity: Playlist, key: 17 }, { format: 'ndjson' })).text!;
    target = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync] });
    // one row already there, so that "nothing written" is checked against a non-empty database
    await importGraph(target.em.fork(), await (await exportGraph(source.em.fork(), { entity: 'Genre', key: 1 })).document!);
    dir = mkdtempSync(join(tmpdir(), 'entity-sync-broken-'));
  });
  test.after(async () => {
    await source.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rejects = async (source: unknown, code: string, message: string | RegExp) => {
    const before = await tableChecksums(target);
    const file = typeof source === 'string' ? join(dir, `doc-${Math.random().toString(36).slice(2)}.json`) : undefined;
    if (file) writeFileSync(file, source as string);
    const error = await importGraph(target.em.fork(), (file ?? source) as GraphDocument).then(
      () => assert.unreachable('the import should fail'), (e) => e);
    assert.is(error.code, code, error.message);
    assert.match(error.message, message);
    assert.equal(await tableChecksums(target), before);
  };

  test('a truncated JSON file', async () => {
    await rejects(json.slice(0, Math.floor(json.length * 0.6)), 'DOCUMENT_TRUNCATED', 'The graph document is incomplete: the JSON ends in the middle');
  });

  test('a truncated NDJSON file, cut between lines and inside a line', async () => {
    const lines = ndjson.split('\n');
    await rejects(lines.slice(0, lines.length - 40).join('\n'), 'DOCUMENT_TRUNCATED', /ends after \d+ of \d+ rows|are missing/);
    await rejects(ndjson.slice(0, ndjson.lastIndexOf('\n{"end"') - 3), 'DOCUMENT_TRUNCATED', 'ends in the middle of a row');
    await rejects(ndjson.slice(0, ndjson.lastIndexOf('{"end"')), 'DOCUMENT_TRUNCATED', 'the end marker is missing');
  });

  test('a document of another version or format, or not one at all', async () => {
    await rejects({ ...clone(document), version: 2 }, 'DOCUMENT_VERSION_UNSUPPORTED', 'this release reads entity-sync/graph version 1');
    await rejects({ ...clone(document), format: 'other/thing' }, 'DOCUMENT_INVALID', 'the header names format "other/thing"');
    await rejects('hello', 'DOCUMENT_INVALID', 'it is not JSON');
    await rejects(ndjson.replace('"version":1', '"version":9'), 'DOCUMENT_VERSION_UNSUPPORTED', 'version 9');
  });

  test('a column that does not exist in the target', async () => {
    const edited = clone(document);
    const track = edited.entities.find((e) => e.name === 'Track')!;
    track.columns.push({ name: 'lyrics', type: 'text', nullable: true });
    for (const row of edited.data.Track!) row.push('la la');
    await rejects(edited, 'SCHEMA_MISMATCH', 'Track.lyrics: column does not exist in the target');
    const retyped = clone(document);
    retyped.entities.find((e) => e.name === 'Genre')!.columns[1]!.type = 'text';
    await rejects(retyped, 'SCHEMA_MISMATCH', 'Genre.name: type is text in the document, character varying(120) in the target');
  });

  test('a foreign key to a row in neither the file nor the target', async () => {
    const edited = clone(document);
    const artists = edited.entities.findIndex((e) => e.name === 'Artist');
    edited.entities.splice(artists, 1);
    delete edited.data.Artist;
    await rejects(edited, 'DANGLING_REFERENCE', /\d+ Album row\(s\) reference a row that is neither in the document nor in the target through Album\.artist/);
  });

  test('rows that are not rows: duplicated keys, wrong width, numbers instead of text', async () => {
    const duplicated = clone(document);
    duplicated.data.Genre!.push([...duplicated.data.Genre![0]!]);
    duplicated.entities.find((e) => e.name === 'Genre')!.rows += 1;
    await rejects(duplicated, 'DOCUMENT_INVALID', /Genre rows \["\d+"\] appear more than once/);
    const lines = ndjson.split('\n');
    const genreRow = lines.findIndex((line) => line === '{"entity":"Genre"}') + 1;
    const narrow = [...lines];
    narrow[genreRow] = '["1"]';
    await rejects(narrow.join('\n'), 'DOCUMENT_INVALID', 'row 1 of Genre is not a list of 2 values');
    const numeric = [...lines];
    numeric[genreRow] = '[1,"Rock"]';
    await rejects(numeric.join('\n'), 'DOCUMENT_INVALID', 'row 1 of Genre holds a number, not text or null');
    const badValue = clone(document);
    badValue.data.Track![0]![0] = 'not-a-number';
    await rejects(badValue, 'IMPORT_REJECTED', 'invalid input syntax for type integer');
  });

  test('a missing file', async () => {
    const error = await importGraph(target.em.fork(), join(dir, 'nope.json')).catch((e) => e);
    assert.is(error.code, 'FILE_NOT_FOUND');
    assert.ok(readFileSync.length > 0);
  });

  test.run();
}
