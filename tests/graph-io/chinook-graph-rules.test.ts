import { EntitySync, exportGraph, importGraph, type ImportReport } from '@entity-sync/adapters/mikro-orm';
import type { GraphDocument } from '@entity-sync/core';
import { runSqlFile, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Artist, chinookEntities, chinookSqlPath, chinookStart, Customer, Employee, Playlist } from '../fixtures/chinook/entities.js';
import { tableChecksums } from '../support/checksums.js';
import { count, documentKeys, keysByEntity, sortedEntries, sql, tableText } from './helpers/sql.js';

const CUSTOMERS = [1, 5, 12];
const PLAYLISTS = [3, 17];
const roots = [...CUSTOMERS.map((key) => ({ entity: Customer, key })), ...PLAYLISTS.map((key) => ({ entity: Playlist, key }))];

/** `select entity, key` for each (entity, relation, key columns). */
function selectKeys(parts: [string, string, string[]][]): string {
  return parts.map(([entity, from, pk]) =>
    `select '${entity}' as entity, array_to_json(array[${pk.map((c) => `${c}::text`).join(', ')}])::text as key from ${from}`).join('\nunion all ');
}

// What tracks (cte t) and albums (cte al) need: their albums' artists, genres and media types.
const trackNeeds: [string, string, string[]][] = [
  ['Track', 't', ['track_id']],
  ['Album', 'al', ['album_id']],
  ['Artist', '(select distinct artist_id from al) x', ['artist_id']],
  ['Genre', '(select distinct genre_id from t where genre_id is not null) x', ['genre_id']],
  ['MediaType', '(select distinct media_type_id from t) x', ['media_type_id']],
];

// Support reps (from cte c) and every manager above them.
const employeesAbove = (seed: string) => `e as (select * from $s.employee where employee_id in (${seed}) ` +
  `union select m.* from $s.employee m join e on m.employee_id = e.reports_to)`;

// The Chinook foreign keys: column -> referenced entity, to map a document row onto its remapped copy.
const foreignKeys: Record<string, Record<string, string>> = {
  Album: { artist_id: 'Artist' },
  Track: { album_id: 'Album', media_type_id: 'MediaType', genre_id: 'Genre' },
  Employee: { reports_to: 'Employee' },
  Customer: { support_rep_id: 'Employee' },
  Invoice: { customer_id: 'Customer' },
  InvoiceLine: { invoice_id: 'Invoice', track_id: 'Track' },
  playlist_track: { playlist_id: 'Playlist', track_id: 'Track' },
};

for (const backend of testBackends()) {
  const test = suite(`graph rules, overlapping imports and remap on Chinook [${backend.name}]`);
  let source: MikroORM;
  let dir: string;
  const em = () => source.em.fork();
  const emptyTarget = () => backend.createOrm({ entities: chinookEntities, extensions: [EntitySync] });

  test.before(async () => {
    source = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync], createSchema: false });
    await runSqlFile(backend, source, chinookSqlPath, { startAt: chinookStart });
    dir = mkdtempSync(join(tmpdir(), 'entity-sync-rules-'));
  });
  test.after(async () => {
    await source.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('customers and playlists export exactly the rows they own and need, and nothing more', async () => {
    const exported = await exportGraph(em(), roots, { exportedAt: null });
    const expected = await keysByEntity(source, `with recursive
      c as (select * from $s.customer where customer_id = any(array[${CUSTOMERS}])),
      i as (select * from $s.invoice where customer_id in (select customer_id from c)),
      l as (select * from $s.invoice_line where invoice_id in (select invoice_id from i)),
      p as (select * from $s.playlist where playlist_id = any(array[${PLAYLISTS}])),
      pt as (select * from $s.playlist_track where playlist_id in (select playlist_id from p)),
      t as (select * from $s.track where track_id in (select track_id from l union select track_id from pt)),
      al as (select * from $s.album where album_id in (select album_id from t)),
      ${employeesAbove('select support_rep_id from c')}
      ${selectKeys([
        ['Customer', 'c', ['customer_id']], ['Invoice', 'i', ['invoice_id']], ['InvoiceLine', 'l', ['invoice_line_id']],
        ['Playlist', 'p', ['playlist_id']], ['playlist_track', 'pt', ['playlist_id', 'track_id']], ['Employee', 'e', ['employee_id']],
        ...trackNeeds,
      ])}`);
    // tracks are needed rows: their other invoice lines and playlist links stay behind
    assert.equal(sortedEntries(documentKeys(exported.document!)), sortedEntries(expected));
    assert.equal(exported.header.roots, [...CUSTOMERS.map((key) => ({ entity: 'Customer', key: [String(key)] })),
      ...PLAYLISTS.map((key) => ({ entity: 'Playlist', key: [String(key)] }))]);
    assert.is(exported.rows, Object.values(expected).reduce((sum, list) => sum + list.length, 0));
  });

  test('an artist owns albums, tracks and their sales and playlist links; invoices, customers and playlists are only needed', async () => {
    const exported = await exportGraph(em(), { entity: Artist, key: 1 }, { exportedAt: null });
    const expected = await keysByEntity(source, `with recursive
      al as (select * from $s.album where artist_id = 1),
      t as (select * from $s.track where album_id in (select album_id from al)),
      l as (select * from $s.invoice_line where track_id in (select track_id from t)),
      pt as (select * from $s.playlist_track where track_id in (select track_id from t)),
      i as (select * from $s.invoice where invoice_id in (select invoice_id from l)),
      c as (select * from $s.customer where customer_id in (select customer_id from i)),
      p as (select * from $s.playlist where playlist_id in (select playlist_id from pt)),
      ${employeesAbove('select support_rep_id from c')}
      ${selectKeys([
        ['Customer', 'c', ['customer_id']], ['Invoice', 'i', ['invoice_id']], ['InvoiceLine', 'l', ['invoice_line_id']],
        ['Playlist', 'p', ['playlist_id']], ['playlist_track', 'pt', ['playlist_id', 'track_id']], ['Employee', 'e', ['employee_id']],
        ...trackNeeds,
      ])}`);
    assert.equal(sortedEntries(documentKeys(exported.document!)), sortedEntries(expected));
    assert.ok(expected.Invoice!.length > 0 && expected.Playlist!.length > 0, 'the artist reaches both sales and playlists');
  });

  test('a sales agent owns its customers; the managers it needs do not bring their other reports; maxDepth counts owned levels', async () => {
    const exported = await exportGraph(em(), { entity: Employee, key: 3 }, { exportedAt: null });
    const expected = await keysByEntity(source, `with recursive
      c as (select * from $s.customer where support_rep_id = 3),
      i as (select * from $s.invoice where customer_id in (select customer_id from c)),
      l as (select * from $s.invoice_line where invoice_id in (select invoice_id from i)),
      t as (select * from $s.track where track_id in (select track_id from l)),
      al as (select * from $s.album where album_id in (select album_id from t)),
      ${employeesAbove('3')}
      ${selectKeys([
        ['Customer', 'c', ['customer_id']], ['Invoice', 'i', ['invoice_id']], ['InvoiceLine', 'l', ['invoice_line_id']],
        ['Employee', 'e', ['employee_id']], ...trackNeeds,
      ])}`);
    assert.equal(expected.Employee, ['["1"]', '["2"]', '["3"]']);
    assert.equal(sortedEntries(documentKeys(exported.document!)), sortedEntries(expected));

    const shallow = await exportGraph(em(), { entity: Employee, key: 3 }, { exportedAt: null, maxDepth: 1 });
    assert.equal(shallow.header.entities.map((e) => `${e.name}:${e.rows}`),
      ['Employee:3', `Customer:${await count(source, 'select count(*)::int as n from $s.customer where support_rep_id = 3')}`]);
    const rootOnly = await exportGraph(em(), { entity: Employee, key: 3 }, { exportedAt: null, maxDepth: 0 });
    assert.equal(documentKeys(rootOnly.document!), { Employee: ['["1"]', '["2"]', '["3"]'] });
  });

  test('roots: an instance and its key give the same bytes, a composite key works, wrong arity and missing keys are refused by name', async () => {
    const customer = await em().findOneOrFail(Customer, { customerId: 5 });
    const byInstance = await exportGraph(em(), customer, { exportedAt: null });
    const byKey = await exportGraph(em(), { entity: 'Customer', key: '5' }, { exportedAt: null });
    assert.is(byInstance.text, byKey.text);

    const link = await exportGraph(em(), { entity: 'playlist_track', key: [1, 3402] }, { exportedAt: null });
    assert.equal(documentKeys(link.document!).playlist_track, ['["1","3402"]']);
    assert.equal(documentKeys(link.document!).Playlist, ['["1"]']);
    assert.equal(documentKeys(link.document!).Track, ['["3402"]']);

    for (const key of [[1, 2], []]) {
      const error = await exportGraph(em(), { entity: Customer, key }).then(() => assert.unreachable('arity'), (e) => e);
      assert.is(error.code, 'INVALID_ROOT', error.message);
      assert.match(error.message, `Customer's primary key has 1 column(s) (customer_id), the root gives ${key.length}`);
    }
    const half = await exportGraph(em(), { entity: 'playlist_track', key: 1 }).then(() => assert.unreachable('arity'), (e) => e);
    assert.is(half.code, 'INVALID_ROOT');
    assert.match(half.message, 'primary key has 2 column(s) (playlist_id, track_id), the root gives 1');

    const missing = await exportGraph(em(), [{ entity: Customer, key: 1 }, { entity: Customer, key: 4242 }, { entity: Customer, key: 59 }, { entity: Customer, key: 9999 }]).then(() => assert.unreachable('missing'), (e) => e);
    assert.is(missing.code, 'ROOT_NOT_FOUND');
    assert.equal(missing.info.keys, ['4242', '9999']);
    assert.match(missing.message, 'No Customer row has the primary key "4242", "9999"');
  });

  test('exclude by many-to-many name in either direction, and by undeclared inverse', async () => {
    const bare = await exportGraph(em(), { entity: Playlist, key: 3 }, { excludeRelations: ['Playlist.tracks'] });
    assert.equal(bare.header.entities.map((e) => `${e.name}:${e.rows}`), ['Playlist:1']);
    const track = await exportGraph(em(), { entity: 'Track', key: 1 }, { excludeRelations: ['Track<-Playlist.tracks', 'Track<-InvoiceLine.track'] });
    assert.equal(track.header.entities.map((e) => `${e.name}:${e.rows}`), ['Artist:1', 'Album:1', 'Genre:1', 'MediaType:1', 'Track:1']);
    const sales = await exportGraph(em(), { entity: Artist, key: 1 }, { excludeRelations: ['Track<-InvoiceLine.track'] });
    assert.not.ok(sales.header.entities.some((e) => ['InvoiceLine', 'Invoice', 'Customer', 'Employee'].includes(e.name)));
    assert.ok(sales.header.entities.some((e) => e.name === 'playlist_track'), 'only the excluded relation is cut');
  });

  test('maxRows: the exact size passes, one less fails naming the relation that fanned out', async () => {
    const full = await exportGraph(em(), roots, { exportedAt: null });
    const exact = await exportGraph(em(), roots, { exportedAt: null, maxRows: full.rows });
    assert.is(exact.text, full.text);
    const over = await exportGraph(em(), roots, { maxRows: full.rows - 1 }).then(() => assert.unreachable('maxRows'), (e) => e);
    assert.is(over.code, 'GRAPH_TOO_LARGE');

    const rock = await exportGraph(em(), { entity: 'Genre', key: 1 }, { maxRows: 100 }).then(() => assert.unreachable('maxRows'), (e) => e);
    assert.is(rock.code, 'GRAPH_TOO_LARGE');
    assert.is(rock.info.relation, 'Genre<-Track.genre');
    assert.match(rock.message, `${await count(source, 'select count(*)::int as n from $s.track where genre_id = 1')} of them through Genre<-Track.genre`);
  });

  test('JSON through files: written by path, imported by path, exported again to the same bytes and rows', async () => {
    const target = await emptyTarget();
    try {
      const file = join(dir, 'graph.json');
      const written = await exportGraph(em(), roots, { exportedAt: null, to: file });
      assert.is(written.text, undefined);
      const inMemory = await exportGraph(em(), roots, { exportedAt: null });
      assert.is(readFileSync(file, 'utf8'), inMemory.text);

      const report = await importGraph(target.em.fork(), file);
      assert.is(report.rows, written.rows);
      const again = join(dir, 'again.json');
      await exportGraph(target.em.fork(), roots, { exportedAt: null, to: again });
      assert.is(readFileSync(again, 'utf8'), readFileSync(file, 'utf8'));

      const document = inMemory.document!;
      for (const entity of document.entities) {
        const columns = entity.columns.map((c) => c.name);
        assert.is(await count(target, `select count(*)::int as n from $s."${entity.table}"`), entity.rows, entity.name);
        const inTarget = await tableText(target, entity.table, columns, entity.primaryKey);
        assert.equal(inTarget, document.data[entity.name]!.map((row) => JSON.stringify(row)), `${entity.name} rows`);
      }
    } finally {
      await target.close();
    }
  });

  test("overlapping graphs: 'fail' lists exactly the shared rows and writes nothing, 'skip' writes the rest", async () => {
    const target = await emptyTarget();
    try {
      const playlist = await exportGraph(em(), { entity: Playlist, key: 17 }, { exportedAt: null });
      await importGraph(target.em.fork(), playlist.document!);
      const customers = await exportGraph(em(), CUSTOMERS.map((key) => ({ entity: Customer, key })), { exportedAt: null });
      const present = documentKeys(playlist.document!);
      const incoming = documentKeys(customers.document!);
      const shared = Object.entries(incoming).flatMap(([entity, keys]) =>
        keys.filter((key) => present[entity]?.includes(key)).map((key) => `${entity} ${key}`)).sort();
      assert.ok(shared.length > 0, 'the two graphs share tracks and reference rows');

      const before = await tableChecksums(target);
      const error = await importGraph(target.em.fork(), customers.document!).then(() => assert.unreachable('conflict'), (e) => e);
      assert.is(error.code, 'IMPORT_CONFLICT');
      const conflicts = error.info.conflicts as ImportReport['conflicts'];
      assert.equal(conflicts.map((c) => `${c.entity} ${JSON.stringify(c.key)}`).sort(), shared);
      for (const conflict of conflicts) {
        assert.is(conflict.kind, 'primaryKey');
        assert.equal(conflict.existingKey, conflict.key);
        assert.equal(conflict.differingColumns, [], `${conflict.entity} ${conflict.key} is the same row`);
      }
      assert.equal(await tableChecksums(target), before, 'nothing was written');

      const report = await importGraph(target.em.fork(), customers.document!, { onConflict: 'skip' });
      for (const entity of customers.header.entities) {
        const skipped = shared.filter((line) => line.startsWith(`${entity.name} `)).length;
        assert.equal(report.entities[entity.name], { created: entity.rows - skipped, updated: 0, skipped, remapped: 0, reused: 0 }, entity.name);
      }
      // the target now holds the union of both graphs, each row as in the source
      for (const entity of customers.header.entities) {
        const union = [...new Set([...(present[entity.name] ?? []), ...incoming[entity.name]!])];
        const key = entity.primaryKey.map((c) => `t."${c}"::text`).join(', ');
        const where = `where array_to_json(array[${key}])::text in (${union.map((k) => `'${k}'`).join(', ')})`;
        const columns = entity.columns.map((c) => c.name);
        assert.equal(await tableText(target, entity.table, columns, entity.primaryKey),
          await tableText(source, entity.table, columns, entity.primaryKey, where), entity.name);
      }
    } finally {
      await target.close();
    }
  });

  test('a manager left out of the file, or a track left out of a playlist file, is a dangling reference and nothing is written', async () => {
    const target = await emptyTarget();
    try {
      const before = await tableChecksums(target);
      const customers = structuredClone((await exportGraph(em(), CUSTOMERS.map((key) => ({ entity: Customer, key })))).document!) as GraphDocument;
      const employees = customers.entities.find((e) => e.name === 'Employee')!;
      const reportsTo = employees.columns.findIndex((c) => c.name === 'reports_to');
      customers.data.Employee = customers.data.Employee!.filter((row) => row[reportsTo] !== null);
      employees.rows = customers.data.Employee.length;
      const headless = await importGraph(target.em.fork(), customers).then(() => assert.unreachable('dangling'), (e) => e);
      assert.is(headless.code, 'DANGLING_REFERENCE', headless.message);
      assert.is(headless.info.relation, 'Employee.reportsTo');
      assert.equal(headless.info.keys, [['2']]);

      const playlist = structuredClone((await exportGraph(em(), { entity: Playlist, key: 17 })).document!) as GraphDocument;
      const [dropped] = playlist.data.Track!.splice(0, 1);
      playlist.entities.find((e) => e.name === 'Track')!.rows -= 1;
      const unlinked = await importGraph(target.em.fork(), playlist).then(() => assert.unreachable('dangling'), (e) => e);
      assert.is(unlinked.code, 'DANGLING_REFERENCE', unlinked.message);
      assert.is(unlinked.info.relation, 'playlist_track.Track_inverse');
      assert.equal(unlinked.info.keys, [['17', dropped![0]]]);
      assert.equal(await tableChecksums(target), before);
    } finally {
      await target.close();
    }
  });

  // Last: it adds a second copy of the graph to the source.
  test("'remap' into the source: a complete second copy whose every key points only at the copy", async () => {
    const exported = await exportGraph(em(), roots, { exportedAt: null });
    const document = exported.document!;
    const tables = Object.fromEntries(document.entities.map((e) => [e.name, e]));
    const sizes = async () => Object.fromEntries(await Promise.all(document.entities.map(async (e) =>
      [e.name, await count(source, `select count(*)::int as n from $s."${e.table}"`)] as const)));
    const highest = async (table: string, column: string) => count(source, `select max(${column})::int as n from $s.${table}`);
    const top = {
      artist: await highest('artist', 'artist_id'), album: await highest('album', 'album_id'), track: await highest('track', 'track_id'),
      genre: await highest('genre', 'genre_id'), media: await highest('media_type', 'media_type_id'), employee: await highest('employee', 'employee_id'),
      customer: await highest('customer', 'customer_id'), invoice: await highest('invoice', 'invoice_id'), playlist: await highest('playlist', 'playlist_id'),
    };
    const before = await sizes();
    const checksums = await tableChecksums(source);

    const dry = await importGraph(em(), document, { onConflict: 'remap', dryRun: true });
    assert.equal(await tableChecksums(source), checksums, 'the dry run wrote nothing');
    const report = await importGraph(em(), document, { onConflict: 'remap' });
    assert.equal({ ...dry, dryRun: false, statements: 0 }, { ...report, statements: 0 }, 'the dry run reported what the run did');

    const after = await sizes();
    const keys = documentKeys(document);
    for (const entity of document.entities) {
      assert.equal(report.entities[entity.name], { created: 0, updated: 0, skipped: 0, remapped: entity.rows, reused: 0 }, entity.name);
      assert.is(after[entity.name], before[entity.name]! + entity.rows, `${entity.table} grew by the copy`);
      const pairs = report.idMap[entity.name]!;
      assert.equal(pairs.map(([old]) => JSON.stringify(old)).sort(), keys[entity.name], `${entity.name}: the id map covers every row`);
      assert.is(new Set(pairs.map(([, now]) => JSON.stringify(now))).size, entity.rows, `${entity.name}: new keys are distinct`);
    }

    // Every foreign key of a new row joins a new row: the new ids are above the highest before.
    const strays = {
      'album.artist_id': `select count(*)::int as n from $s.album a join $s.artist r on r.artist_id = a.artist_id where a.album_id > ${top.album} and r.artist_id <= ${top.artist}`,
      'track.album_id': `select count(*)::int as n from $s.track t join $s.album a on a.album_id = t.album_id where t.track_id > ${top.track} and a.album_id <= ${top.album}`,
      'track.genre_id': `select count(*)::int as n from $s.track t join $s.genre g on g.genre_id = t.genre_id where t.track_id > ${top.track} and g.genre_id <= ${top.genre}`,
      'track.media_type_id': `select count(*)::int as n from $s.track t join $s.media_type m on m.media_type_id = t.media_type_id where t.track_id > ${top.track} and m.media_type_id <= ${top.media}`,
      'employee.reports_to': `select count(*)::int as n from $s.employee e join $s.employee m on m.employee_id = e.reports_to where e.employee_id > ${top.employee} and m.employee_id <= ${top.employee}`,
      'customer.support_rep_id': `select count(*)::int as n from $s.customer c join $s.employee e on e.employee_id = c.support_rep_id where c.customer_id > ${top.customer} and e.employee_id <= ${top.employee}`,
      'invoice.customer_id': `select count(*)::int as n from $s.invoice i join $s.customer c on c.customer_id = i.customer_id where i.invoice_id > ${top.invoice} and c.customer_id <= ${top.customer}`,
      'invoice_line.invoice_id': `select count(*)::int as n from $s.invoice_line l join $s.invoice i on i.invoice_id = l.invoice_id where l.invoice_line_id > (select max(invoice_line_id) from $s.invoice_line) - ${tables.InvoiceLine!.rows} and i.invoice_id <= ${top.invoice}`,
      'invoice_line.track_id': `select count(*)::int as n from $s.invoice_line l join $s.track t on t.track_id = l.track_id where l.invoice_line_id > (select max(invoice_line_id) from $s.invoice_line) - ${tables.InvoiceLine!.rows} and t.track_id <= ${top.track}`,
      'playlist_track old playlist, new track': `select count(*)::int as n from $s.playlist_track x join $s.playlist p on p.playlist_id = x.playlist_id join $s.track t on t.track_id = x.track_id where p.playlist_id <= ${top.playlist} and t.track_id > ${top.track}`,
      'playlist_track new playlist, old track': `select count(*)::int as n from $s.playlist_track x join $s.playlist p on p.playlist_id = x.playlist_id join $s.track t on t.track_id = x.track_id where p.playlist_id > ${top.playlist} and t.track_id <= ${top.track}`,
    };
    for (const [relation, query] of Object.entries(strays)) assert.is(await count(source, query), 0, `${relation}: a new row points at an old one`);
    assert.is(await count(source, `select count(*)::int as n from $s.playlist_track where playlist_id > ${top.playlist} and track_id > ${top.track}`),
      tables.playlist_track!.rows, 'the copied playlist links join the copied playlists and tracks');
    assert.is(await count(source, `select count(*)::int as n from $s.employee where employee_id > ${top.employee} and reports_to is null`), 1,
      'the copied general manager reports to nobody');

    // And each new row is its document row with every key translated through the id map.
    const translate = (entity: string, value: string | null) => {
      if (value === null) return null;
      const pair = report.idMap[entity]!.find(([old]) => old[0] === value);
      assert.ok(pair, `${entity} ${value} has a new key`);
      return pair![1][0]!;
    };
    for (const entity of document.entities) {
      const columns = entity.columns.map((c) => c.name);
      const references: Record<string, string> = { ...foreignKeys[entity.name] };
      if (entity.primaryKey.length === 1) references[entity.primaryKey[0]!] = entity.name;
      const expected = document.data[entity.name]!.map((row) => JSON.stringify(row.map((value, i) =>
        (references[columns[i]!] ? translate(references[columns[i]!]!, value) : value))));
      const newKeys = report.idMap[entity.name]!.map(([, now]) => `'${JSON.stringify(now)}'`).join(', ');
      const where = `where array_to_json(array[${entity.primaryKey.map((c) => `t."${c}"::text`).join(', ')}])::text in (${newKeys})`;
      const copied = await tableText(source, entity.table, columns, entity.primaryKey, where);
      assert.equal(copied.sort(), expected.sort(), `${entity.name}: the copy holds the document's values under the new keys`);
    }
  });

  test.run();
}
