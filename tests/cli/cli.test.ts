import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { getBackend, runSqlFile, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chinookEntities, chinookSqlPath, chinookStart } from '../fixtures/chinook/entities.js';
import { CHILD_DEADLINE_MS, killAfter } from '../support/child-deadline.js';

// spawned processes compile the repository's TypeScript files only (scripts/test-harness/ts-hooks.mjs); under the
// test runner import.meta.url is file:////..., whose path would start with //
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = join(root, 'tests/cli/fixtures/chinook.config.ts');

interface Run { code: number | null; stdout: string; stderr: string }

function cli(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TS_REGISTER,
      join(root, 'packages/cli/bin/entity-sync.js'), '--config', config, ...args], { cwd: root, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    killAfter(child, CHILD_DEADLINE_MS, `entity-sync ${args.join(' ')}`, () => ({ stdout, stderr }), reject);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const count = async (orm: MikroORM, table: string) =>
  Number((await orm.em.getConnection().execute<{ n: number }[]>(`select count(*)::int as n from ${table}`))[0]!.n);

if (testBackends().some((backend) => backend.name === 'postgres')) {
  const test = suite('entity-sync CLI [postgres]');
  const backend = getBackend('postgres');
  let source: MikroORM;
  let target: MikroORM;
  let dir: string;
  const env = (orm: MikroORM) => ({ ES_TEST_DB_URL: orm.config.get('clientUrl')! });

  test.before(async () => {
    source = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync], createSchema: false });
    await runSqlFile(backend, source, chinookSqlPath, { startAt: chinookStart });
    target = await backend.createOrm({ entities: chinookEntities, extensions: [EntitySync] });
    dir = mkdtempSync(join(tmpdir(), 'entity-sync-cli-'));
  });
  test.after(async () => {
    await source.close();
    await target.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('export writes the file and a readable summary; import loads it elsewhere; --json reports', async () => {
    const file = join(dir, 'customers.ndjson');
    const exported = await cli(['export', 'Customer:1', 'Customer:2', '-o', file, '--format', 'ndjson'], env(source));
    assert.is(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /exported \d+ rows of \d+ entities to /);
    assert.match(exported.stdout, /Customer\s+2/);
    assert.match(readFileSync(file, 'utf8').split('\n')[0]!, '"encoding":"ndjson"');

    const dry = await cli(['import', file, '--dry-run', '--json'], env(target));
    assert.is(dry.code, 0, dry.stderr);
    const planned = JSON.parse(dry.stdout);
    assert.is(planned.dryRun, true);
    assert.is(planned.entities.Customer.created, 2);
    assert.is(await count(target, 'customer'), 0);

    const real = await cli(['import', file], env(target));
    assert.is(real.code, 0, real.stderr);
    assert.match(real.stdout, /imported \d+ rows/);
    assert.is(await count(target, 'customer'), 2);
  });

  test('export --no-timestamp leaves the time out, so that the same data gives the same bytes', async () => {
    const first = join(dir, 'same-1.json');
    const second = join(dir, 'same-2.json');
    for (const file of [first, second]) {
      const run = await cli(['export', 'Album:1', '-o', file, '--no-timestamp'], env(source));
      assert.is(run.code, 0, run.stderr);
    }
    assert.is(JSON.parse(readFileSync(first, 'utf8')).exportedAt, null);
    assert.is(readFileSync(first, 'utf8'), readFileSync(second, 'utf8'));
  });

  test('a conflicting import exits non-zero with the error code and changes nothing', async () => {
    const file = join(dir, 'album.json');
    assert.is((await cli(['export', 'Album:1', '-o', file], env(source))).code, 0);
    const before = await count(source, 'album');
    const run = await cli(['import', file, '--on-conflict', 'fail'], env(source));
    assert.is(run.code, 1);
    assert.match(run.stderr, /^error \[IMPORT_CONFLICT\]: \d+ row\(s\) of the document already exist/);
    assert.is(await count(source, 'album'), before);
    // skipped rows are not counted as imported
    const skipped = await cli(['import', file, '--on-conflict', 'skip', '--dry-run'], env(source));
    assert.is(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stdout, /^dry run: would import 0 rows \(\d+ in the file\)/);
    assert.match(skipped.stdout, /Album\s+1 skipped/);
    const remapped = await cli(['import', file, '--on-conflict', 'remap', '--json'], env(source));
    assert.is(remapped.code, 0, remapped.stderr);
    assert.is(JSON.parse(remapped.stdout).entities.Album.remapped, 1);
    assert.is(await count(source, 'album'), before + 1);
  });

  test('delete --dry-run names the rows that go because of a key outside the graph', async () => {
    const run = await cli(['delete', 'Artist:1', '--dry-run'], env(source));
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, /dry run: would delete \d+ rows/);
    assert.match(run.stdout, /InvoiceLine row\(s\) go because of Track<-InvoiceLine\.track, although they also belong to \d+ Invoice/);
  });

  test('roots of every key form, and usage errors', async () => {
    const badRoot = await cli(['export', 'Customer', '-o', join(dir, 'x.json')], env(source));
    assert.is(badRoot.code, 1);
    assert.match(badRoot.stderr, 'error [INVALID_ROOT]');
    const missing = await cli(['export', 'Customer:999999', '-o', join(dir, 'x.json')], env(source));
    assert.is(missing.code, 1);
    assert.match(missing.stderr, 'error [ROOT_NOT_FOUND]: No Customer row has the primary key "999999"');
    const composite = await cli(['export', 'playlist_track:["1","3402"]', '-o', join(dir, 'pt.json'), '--json'], env(source));
    assert.is(composite.code, 0, composite.stderr);
    assert.ok(JSON.parse(composite.stdout).entities.some((e: { name: string }) => e.name === 'Track'));
    const noFile = await cli(['import', join(dir, 'does-not-exist.json')], env(source));
    assert.is(noFile.code, 1);
    assert.match(noFile.stderr, 'error [FILE_NOT_FOUND]');
    const usage = await cli(['export', 'Customer:1'], env(source));
    assert.is(usage.code, 2);
    assert.match(usage.stderr, "required option '-o, --output <file>' not specified");
    const subcommandUsage = await cli(['cqrs', 'relay', '--batch-size', 'x', '--json'], env(source));
    assert.is(subcommandUsage.code, 2, 'a usage error in a cqrs subcommand exits 2 like the others');
    assert.is(JSON.parse(subcommandUsage.stdout).error.code, 'USAGE');
  });

  test('with --json a failure is JSON on stdout, with the error code and the same exit codes', async () => {
    const missing = await cli(['export', 'Customer:999999', '-o', join(dir, 'x.json'), '--json'], env(source));
    assert.is(missing.code, 1);
    const failure = JSON.parse(missing.stdout) as { error: { code: string; message: string; info: Record<string, unknown> } };
    assert.is(failure.error.code, 'ROOT_NOT_FOUND');
    assert.match(failure.error.message, 'No Customer row has the primary key "999999"');
    assert.type(failure.error.info, 'object');
    const usage = await cli(['export', 'Customer:1', '--json'], env(source));
    assert.is(usage.code, 2);
    assert.equal(JSON.parse(usage.stdout), { error: { code: 'USAGE', message: "required option '-o, --output <file>' not specified", info: { commander: 'commander.missingMandatoryOptionValue' } } });
  });

  test('a key that is not of the key type, or a file that cannot be written, fails typed and writes nothing', async () => {
    const notANumber = await cli(['export', 'Customer:abc', '-o', join(dir, 'abc.json')], env(source));
    assert.is(notANumber.code, 1);
    assert.match(notANumber.stderr, 'error [INVALID_ROOT]: Invalid root "Customer:abc": Customer.customer_id is integer, and "abc" is not a whole number');
    assert.not.ok(existsSync(join(dir, 'abc.json')));

    const missingDir = join(dir, 'no-such-dir');
    const exported = await cli(['export', 'Customer:1', '-o', join(missingDir, 'c1.json')], env(source));
    assert.is(exported.code, 1, exported.stderr);
    assert.match(exported.stderr, `error [FILE_NOT_WRITABLE]: Cannot write ${join(missingDir, 'c1.json')}: the directory ${missingDir} does not exist`);

    const customers = await count(source, 'customer');
    const deleted = await cli(['delete', 'Customer:1', '--archive', join(missingDir, 'c1-archive.json')], env(source));
    assert.is(deleted.code, 1, deleted.stderr);
    assert.match(deleted.stderr, 'error [FILE_NOT_WRITABLE]');
    assert.is(await count(source, 'customer'), customers, 'nothing was deleted');
    assert.not.ok(existsSync(missingDir));
  });

  test.run();
}

const embedded = suite('entity-sync CLI [pglite data directory]');

embedded('finds the config, exports from a PGlite directory, and the file imports back', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'entity-sync-cli-pglite-'));
  try {
    // the CLI runs in its own process: the data lives in a PGlite directory, filled here and closed before it starts
    const { PGlite } = await import('@electric-sql/pglite');
    const pglite = new PGlite(join(dir, 'db'));
    const sql = readFileSync(chinookSqlPath, 'utf8');
    await pglite.exec(sql.slice(sql.search(chinookStart)));
    await pglite.close();
    const env = { ES_TEST_PGLITE_DIR: join(dir, 'db') };
    const run = await cli(['export', 'Playlist:18', '-o', join(dir, 'p18.json'), '--json'], env);
    assert.is(run.code, 0, run.stderr);
    assert.equal(JSON.parse(run.stdout).entities.map((e: { name: string }) => e.name).includes('playlist_track'), true);
    const again = await cli(['import', join(dir, 'p18.json'), '--on-conflict', 'skip', '--json'], env);
    assert.is(again.code, 0, again.stderr);
    assert.is(JSON.parse(again.stdout).entities.Playlist.skipped, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

embedded.run();
