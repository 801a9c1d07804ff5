// File sources of the diff: CSV through csv-parse with a column map and per-column parsing,
// NDJSON line by line; a malformed file is DIFF_SOURCE_INVALID naming its line; a read left
// early ends the file's read (nothing hangs).
import { diff, fromCsv, fromNdjson, fromRecords, isEntitySyncError } from '@entity-sync/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('diff: CSV and NDJSON sources');
let dir: string;
test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'entity-sync-diff-'));
});
test.after(() => rmSync(dir, { recursive: true, force: true }));

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const all = async <R>(source: { records(): AsyncIterable<R> | Iterable<R> }) => {
  const rows: R[] = [];
  for await (const row of source.records()) rows.push(row);
  return rows;
};
const codeOf = (work: Promise<unknown>) => work.then(() => 'no error', (error: unknown) => (isEntitySyncError(error) ? `${error.code}: ${error.message}` : String(error)));

test('CSV: a column map, parsing per column, quoted commas and newlines, a BOM; the columns not mapped are left out', async () => {
  const path = file('roster.csv', '\uFEFFStudent No,Name,Homeroom,Courses,Ignored\n7,"Novák, Lena",5A,math;art,x\n12,"Aiko\nMori",5B,,y\n');
  const roster = fromCsv('roster.csv', path, {
    columns: { 'Student No': 'studentNo', Name: 'name', Homeroom: 'homeroom', Courses: 'courses' },
    parse: { studentNo: Number, courses: (text) => text.split(';').filter(Boolean) },
  });
  assert.equal(await all(roster), [
    { studentNo: 7, name: 'Novák, Lena', homeroom: '5A', courses: ['math', 'art'] },
    { studentNo: 12, name: 'Aiko\nMori', homeroom: '5B', courses: [] },
  ]);
  const result = await diff(roster, fromRecords('students', [{ studentNo: 7, name: 'Novák, Lena', homeroom: '4C', courses: ['math'] }]), { key: 'studentNo', lists: ['courses'] });
  assert.equal(result.actions.map((action) => [action.action, action.key, action.action === 'update' ? action.changes.map((change) => [change.field, change.added ?? change.new]) : []]),
    [['update', [7], [['homeroom', '5A'], ['courses', ['art']]]], ['create', [12], []]]);
});

test('CSV from chunks split anywhere, in UTF-8 bytes', async () => {
  const bytes = new TextEncoder().encode('id,name\n1,Zoë\n2,😀\n');
  const chunks = () => Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
  assert.equal(await all(fromCsv('bytes', chunks, { parse: { id: Number } })), [{ id: 1, name: 'Zoë' }, { id: 2, name: '😀' }]);
});

test('a malformed CSV or NDJSON file is DIFF_SOURCE_INVALID naming the line; a column the map names must be there', async () => {
  assert.match(await codeOf(all(fromCsv('bad.csv', file('bad.csv', 'id,name\n1,"open\n2,b\n')))), /^DIFF_SOURCE_INVALID: bad\.csv, line \d+/);
  assert.match(await codeOf(all(fromCsv('wide.csv', file('wide.csv', 'id,name\n1,a,extra\n')))), /^DIFF_SOURCE_INVALID: wide\.csv, line 2/);
  assert.match(await codeOf(all(fromCsv('cols.csv', file('cols.csv', 'id,name\n1,a\n'), { columns: { ID: 'id' } }))), /^DIFF_SOURCE_INVALID: cols\.csv, line \d+: it has no column "ID"/);
  assert.match(await codeOf(all(fromNdjson('bad.ndjson', file('bad.ndjson', '{"id":1}\n\n{"id":\n')))), /^DIFF_SOURCE_INVALID: bad\.ndjson, line 3/);
  assert.match(await codeOf(all(fromNdjson('list.ndjson', file('list.ndjson', '[1,2]\n')))), /line 1: the line is not a JSON object/);
});

test('NDJSON: lines split across chunks, a last line without a newline, a map; a loop left early ends the read', async () => {
  const text = '{"id":2,"at":"2026-01-02"}\n{"id":1,"at":"2026-01-01"}';
  const chunks = () => [text.slice(0, 7), text.slice(7, 30), text.slice(30)];
  const rows = await all(fromNdjson('events', chunks, { map: (line) => ({ id: line.id, at: new Date(line.at as string) }) }));
  assert.equal(rows.map((row) => [row.id, (row.at as Date).toISOString()]), [[2, '2026-01-02T00:00:00.000Z'], [1, '2026-01-01T00:00:00.000Z']]);
  const big = file('big.csv', `id\n${Array.from({ length: 200_000 }, (_, i) => i).join('\n')}\n`);
  let seen = 0;
  for await (const row of fromCsv('big.csv', big).records()) {
    if (++seen === 3) break;
    assert.ok(row);
  }
  assert.is(seen, 3);
  const ndjson = file('big.ndjson', Array.from({ length: 100_000 }, (_, i) => `{"id":${i}}`).join('\n'));
  seen = 0;
  for await (const row of fromNdjson('big.ndjson', ndjson).records()) {
    if (++seen === 2) break;
    assert.ok(row);
  }
  assert.is(seen, 2);
});

test.run();
