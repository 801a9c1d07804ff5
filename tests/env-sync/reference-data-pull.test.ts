import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { exportReferenceData, pullReferenceData, type PullReferenceDataOptions } from '@entity-sync/adapters/mikro-orm';
import { LocalDirectoryStorage } from '@entity-sync/adapters/storage';
import { EntitySyncError, type ModelPullReport, type PullReport } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tableChecksums } from '../support/checksums.js';
import { rejection } from '../support/discover.js';
import { City, CopyText, Country, EmailTemplate, Language, openReferenceDb, orderCountryGoneFromSource, seedSource, shiftSequences, updates } from './fixtures/reference-data.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function exported(orm: MikroORM, storage?: LocalDirectoryStorage, models?: string[]): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of exportReferenceData(orm.em.fork(), { storage, models, batchSize: 2 })) lines.push(line);
  return lines;
}

async function* from(lines: string[]): AsyncIterable<string> {
  yield* lines;
}

const model = (report: PullReport, name: string): ModelPullReport => report.models.find((entry) => entry.model === name)!;
const counts = (report: PullReport) => Object.fromEntries(report.models.map((m) => [m.model, [m.created, m.updated, m.deleted, m.unchanged]]));

for (const backend of testBackends()) {
  const test = suite(`environment sync: pull reference data by natural key [${backend.name}]`);
  let source: MikroORM;
  let target: MikroORM;
  let dirs: string[];
  let sourceFiles: LocalDirectoryStorage;
  let targetFiles: LocalDirectoryStorage;
  let fetched: string[];

  const pull = (lines: string[], options: PullReferenceDataOptions = {}) => pullReferenceData(target.em.fork(), from(lines), {
    storage: targetFiles, fetchFile: async (hash) => { fetched.push(hash); return sourceFiles.read((await sourceFiles.has(hash))!); }, ...options,
  });

  test.before.each(async () => {
    dirs = [await mkdtemp(join(tmpdir(), 'es-src-')), await mkdtemp(join(tmpdir(), 'es-dst-'))];
    sourceFiles = new LocalDirectoryStorage(dirs[0]!);
    targetFiles = new LocalDirectoryStorage(dirs[1]!);
    fetched = [];
    source = await openReferenceDb(backend);
    target = await openReferenceDb(backend);
    const ref = await sourceFiles.write(sha256('terms v1'), Readable.from([Buffer.from('terms v1')]));
    await seedSource(source, ref);
    await shiftSequences(target);
  });
  test.after.each(async () => {
    await source.close();
    await target.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  test('a first pull creates every row with the target\'s own ids, references by natural key, cycles and self-references set', async () => {
    const report = await pull(await exported(source, sourceFiles));
    assert.equal(counts(report), {
      Currency: [2, 0, 0, 0], Country: [3, 0, 0, 0], City: [4, 0, 0, 0], Language: [4, 0, 0, 0], CopyText: [2, 0, 0, 0], EmailTemplate: [1, 0, 0, 0],
    });
    const em = target.em.fork();
    const ch = await em.findOneOrFail(Country, { code: 'CH' }, { populate: ['capital', 'currency'] });
    const sourceCh = await source.em.fork().findOneOrFail(Country, { code: 'CH' });
    assert.is.not(ch.id, sourceCh.id, 'the target gave its own id');
    assert.is(ch.capital?.name, 'Bern');
    assert.is(ch.currency.code, 'CHF');
    assert.is(ch.internalNote, null, 'the excluded column did not travel');
    const formal = await em.findOneOrFail(CopyText, { key: 'greeting.formal' }, { populate: ['fallback'] });
    assert.is(formal.fallback?.key, 'greeting');
    assert.is(formal.text, 'Good day, "dear" \\ guest\n');
    assert.is((await em.find(Language, { country: ch })).length, 2);
    assert.is((await em.findOneOrFail(City, { name: 'Zürich' }, { populate: ['country'] })).country.code, 'CH');
  });

  test('a second, identical pull writes nothing: no UPDATE reaches any table, no file is fetched', async () => {
    const lines = await exported(source, sourceFiles);
    await pull(lines);
    const before = await updates(target);
    const fetchedBefore = fetched.length;
    const report = await pull(lines);
    assert.equal(counts(report), {
      Currency: [0, 0, 0, 2], Country: [0, 0, 0, 3], City: [0, 0, 0, 4], Language: [0, 0, 0, 4], CopyText: [0, 0, 0, 2], EmailTemplate: [0, 0, 0, 1],
    });
    assert.equal(await updates(target), before);
    assert.is(fetched.length, fetchedBefore);
  });

  test('a changed source row updates only it, and the report names each field with old and new values', async () => {
    await pull(await exported(source, sourceFiles));
    const before = await updates(target);
    const em = source.em.fork();
    const de = await em.findOneOrFail(Country, { code: 'DE' });
    de.name = 'Deutschland';
    await em.flush();
    const report = await pull(await exported(source, sourceFiles));
    const countries = model(report, 'Country');
    assert.is(countries.updated, 1);
    assert.is(countries.unchanged, 2);
    assert.equal(countries.rows.updated, [{ key: ['DE'], changes: [{ field: 'name', old: 'Germany', new: 'Deutschland' }] }]);
    const after = await updates(target);
    assert.equal({ ...after, country: (after.country ?? 0) - (before.country ?? 0) }, { ...before, country: 1 });
  });

  test('a new row pointing at a row created in the same pull is inserted', async () => {
    await pull(await exported(source, sourceFiles));
    const em = source.em.fork();
    const eur = await em.findOneOrFail(Country, { code: 'FR' }, { populate: ['currency'] });
    const at = em.create(Country, { code: 'AT', name: 'Austria', currency: eur.currency });
    await em.flush();
    at.capital = em.create(City, { country: at, name: 'Wien' });
    em.create(Language, { country: at, code: 'de', name: 'Österreichisches Deutsch' });
    await em.flush();
    const report = await pull(await exported(source, sourceFiles));
    assert.is(model(report, 'Country').created, 1);
    assert.is(model(report, 'Language').created, 1);
    const austria = await target.em.fork().findOneOrFail(Country, { code: 'AT' }, { populate: ['capital'] });
    assert.is(austria.capital?.name, 'Wien');
  });

  test('a renamed natural key shows as delete + create in the dry run with deleteMissing, and the dry run writes nothing', async () => {
    await pull(await exported(source, sourceFiles));
    const em = source.em.fork();
    const text = await em.findOneOrFail(CopyText, { key: 'greeting' });
    text.key = 'salutation';
    await em.flush();
    const checksums = await tableChecksums(target);
    const report = await pull(await exported(source, sourceFiles), { dryRun: true, deleteMissing: true });
    const texts = model(report, 'CopyText');
    assert.equal(texts.rows.created, [{ key: ['salutation'] }]);
    assert.equal(texts.rows.deleted, [{ key: ['greeting'] }]);
    assert.is(texts.updated, 1, 'the fallback of greeting.formal moves to the new row');
    assert.equal(await tableChecksums(target), checksums);
  });

  test('deleteMissing removes exactly the rows the source lacks', async () => {
    await pull(await exported(source, sourceFiles));
    const em = source.em.fork();
    em.remove(await em.find(Language, { code: 'fr' }));
    await em.flush();
    const report = await pull(await exported(source, sourceFiles), { deleteMissing: true });
    assert.equal(model(report, 'Language').rows.deleted.map((row) => row.key).sort(), [['CH', 'fr'], ['FR', 'fr']]);
    assert.equal((await target.em.fork().find(Language, {}, { orderBy: { name: 'asc' } })).map((language) => language.name), ['Deutsch', 'Schweizerdeutsch']);
    assert.is((await target.em.fork().count(Country)), 3);
  });

  test('deleteMissing refuses a delete that would cascade to a model outside the pull, and writes nothing', async () => {
    await pull(await exported(source, sourceFiles));
    await orderCountryGoneFromSource(source, target, 'DE');
    const checksums = await tableChecksums(target);
    const error = await rejection(pull(await exported(source, sourceFiles), { deleteMissing: true }));
    assert.is(error.code, 'ENV_SYNC_DELETE_REFUSED');
    assert.match(error.message, /customer_order/);
    assert.match(error.message, /CASCADE/);
    assert.equal(await tableChecksums(target), checksums);
  });

  test('an excluded column appears in no byte of the export', async () => {
    const text = (await exported(source, sourceFiles)).join('\n');
    assert.not.match(text, /SECRET-NOTE/);
    assert.not.match(text, /internal_note/);
    assert.not.match(text, /"id"/);
  });

  test('a stream cut short leaves the target unchanged and fails typed', async () => {
    const lines = await exported(source, sourceFiles);
    const checksums = await tableChecksums(target);
    for (const cut of [lines.slice(0, -1), lines.slice(0, 5), ['{"format":"entity-sync-env"']]) {
      const error = await rejection(pull(cut));
      assert.ok(error instanceof EntitySyncError);
      assert.is(error.code, 'ENV_SYNC_STREAM_INVALID');
    }
    assert.equal(await tableChecksums(target), checksums);
    assert.equal(await readdir(dirs[1]!), [], 'no file stays behind');
  });

  test('a target whose columns differ is refused with the differences, nothing written', async () => {
    await target.em.getConnection().execute(`alter table "${target.config.get('schema') ?? 'public'}".country add column iso_numeric int`);
    await target.em.getConnection().execute(`alter table "${target.config.get('schema') ?? 'public'}".city alter column name type varchar(40)`);
    // the pull reads the catalog afresh, so the same ORM sees the changed columns
    const lines = await exported(source, sourceFiles);
    const checksums = await tableChecksums(target);
    const error = await rejection(pull(lines));
    assert.is(error.code, 'SCHEMA_MISMATCH');
    assert.equal(error.info.differences, [
      { entity: 'Country', column: 'iso_numeric', problem: 'column exists in the target but not in the source' },
      { entity: 'City', column: 'name', problem: 'type is character varying(255) in the source, character varying(40) in the target' },
    ]);
    assert.equal(await tableChecksums(target), checksums);
  });

  test('files: a changed file is fetched, an unchanged one is not; a pull that rolls back removes the files it wrote', async () => {
    await pull(await exported(source, sourceFiles));
    assert.equal(fetched, [sha256('terms v1')]);
    await pull(await exported(source, sourceFiles));
    assert.is(fetched.length, 1, 'unchanged: not fetched again');
    const ref = await sourceFiles.write(sha256('terms v2'), Readable.from([Buffer.from('terms v2')]));
    const em = source.em.fork();
    const welcome = await em.findOneOrFail(EmailTemplate, { name: 'welcome' });
    welcome.attachment = ref;
    await em.flush();
    const report = await pull(await exported(source, sourceFiles));
    assert.equal(fetched, [sha256('terms v1'), sha256('terms v2')]);
    assert.is(model(report, 'EmailTemplate').filesFetched, 1);
    const stored = (await target.em.fork().findOneOrFail(EmailTemplate, { name: 'welcome' })).attachment!;
    assert.is(stored, LocalDirectoryStorage.refOf(sha256('terms v2')));

    // a third version whose pull fails after the file was written: the file goes again
    const third = await sourceFiles.write(sha256('terms v3'), Readable.from([Buffer.from('terms v3')]));
    welcome.attachment = third;
    await em.flush();
    const lines = await exported(source, sourceFiles);
    const broken = lines.map((line) => (line.startsWith('{"m":"Country"') ? line.replace('["EUR"]', '["XYZ"]') : line));
    assert.is.not(broken.join(), lines.join(), 'the broken stream differs');
    const error = await rejection(pull(broken));
    assert.is(error.code, 'ENV_SYNC_DANGLING_REFERENCE');
    assert.is(await targetFiles.has(sha256('terms v3')), undefined, 'the file written before the failure was removed');
    assert.ok(await targetFiles.has(sha256('terms v2')), 'the committed file stays');
  });

  test('a reference to a row in neither the pull nor the target names model, row and reference', async () => {
    const lines = await exported(source, sourceFiles, ['Country', 'City']);
    const checksums = await tableChecksums(target);
    const error = await rejection(pull(lines));
    assert.is(error.code, 'ENV_SYNC_DANGLING_REFERENCE');
    assert.match(error.message, /Country \["(CH|DE|FR)"\] refers through Country\.currency to \["(CHF|EUR)"\]/);
    assert.equal(await tableChecksums(target), checksums);
  });

  test('a row whose natural key names another parent than its reference is refused, nothing written', async () => {
    const lines = await exported(source, sourceFiles);
    const at = lines.findIndex((line) => JSON.parse(line).m === 'City');
    const city = JSON.parse(lines[at]!) as { k: string[]; r: string[][] };
    const other = city.r[0]![0] === 'FR' ? 'DE' : 'FR';
    lines[at] = JSON.stringify({ ...city, k: [other, ...city.k.slice(1)] });
    const checksums = await tableChecksums(target);
    const error = await rejection(pull(lines));
    assert.is(error.code, 'ENV_SYNC_STREAM_INVALID');
    assert.match(error.message, /City row does not start with the key of the row its reference names/);
    assert.equal(await tableChecksums(target), checksums);
  });

  test.run();
}

