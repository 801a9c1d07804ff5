// `entity-sync pull` end to end: two real PostgreSQL databases whose ids differ, the source served
// by envSyncRoutes in a process of its own on 127.0.0.1 (fixtures/source-server.ts), the target
// pulling through the CLI with the config module's storage export (fixtures/pull-target.config.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { LocalDirectoryStorage } from '@entity-sync/adapters/storage';
import type { PullReport } from '@entity-sync/core';
import { getBackend, testBackends, type TestBackend } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { SignJWT } from 'jose';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tableChecksums } from '../support/checksums.js';
import { CHILD_DEADLINE_MS, killAfter, SERVER_DEADLINE_MS } from '../support/child-deadline.js';
import { until } from '../support/until.js';
import { City, Country, CopyText, EmailTemplate, Language, openReferenceDb, orderCountryGoneFromSource, seedSource, shiftSequences, updates } from './fixtures/reference-data.js';

// spawned processes compile the repository's TypeScript files only (scripts/test-harness/ts-hooks.mjs); under the
// test runner import.meta.url is file:////..., whose path would start with //
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');

const root = fileURLToPath(new URL('../..', import.meta.url));
const fixtures = join(root, 'tests/env-sync/fixtures');
const STATIC_TOKEN = 'static-token-for-the-pull-tests-0123456789';
const JWT_SECRET = 'hs256-secret-of-the-pull-tests-at-least-32-bytes';
const SERVED = ['Currency', 'Country', 'City', 'Language', 'CopyText', 'EmailTemplate'];

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (claims: Record<string, unknown>, secret = JWT_SECRET) =>
  new SignJWT({ sub: 'staging', roles: ['env-sync:pull'], iat: now(), exp: now() + 600, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));

interface Run { code: number | null; stdout: string; stderr: string }

// the environment without variables that would change what the children do
function baseEnv(): Record<string, string> {
  const { ENTITY_SYNC_TOKEN: _token, ...rest } = process.env;
  return { ...rest, SWC_NODE_PROJECT: join(root, 'tsconfig.json') } as Record<string, string>;
}

function spawnTs(script: string, args: string[], env: Record<string, string>, deadlineMs = CHILD_DEADLINE_MS): { child: ChildProcess; output: () => { stdout: string; stderr: string }; done: Promise<Run> } {
  const child = spawn(process.execPath, ['--import', TS_REGISTER, script, ...args], { cwd: root, env: { ...baseEnv(), ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<Run>((resolve, reject) => {
    killAfter(child, deadlineMs, `${script} ${args.join(' ')}`, () => ({ stdout, stderr }), reject);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, output: () => ({ stdout, stderr }), done };
}

/** A running source server: the endpoint's URL, its file-download count, and how to stop it. */
interface Source {
  url: string;
  fileRequests(): Promise<number>;
  output(): { stdout: string; stderr: string };
  kill(signal: NodeJS.Signals): Promise<Run>;
}

async function startSource(databaseUrl: string, files: string, env: Record<string, string> = {}): Promise<Source> {
  const server = spawnTs(join(fixtures, 'source-server.ts'), [], {
    ES_SOURCE_URL: databaseUrl, ES_SOURCE_FILES: files, ES_STATIC_TOKEN: STATIC_TOKEN, ES_JWT_SECRET: JWT_SECRET, ...env,
  }, SERVER_DEADLINE_MS);
  let exited = false;
  // a server killed at its deadline fails the test that stops it (kill), not the whole process
  server.done.then(() => (exited = true), () => (exited = true));
  await until('the source server listens', () => {
    if (exited) throw new Error(`the source server exited:\n${server.output().stderr}`);
    return /listening \d+/.test(server.output().stdout);
  }, 60_000, 50);
  const port = /listening (\d+)/.exec(server.output().stdout)![1];
  const url = `http://127.0.0.1:${port}/entity-sync`;
  return {
    url,
    fileRequests: async () => ((await (await fetch(`${url}/stats`)).json()) as { fileRequests: number }).fileRequests,
    output: server.output,
    kill: (signal) => {
      server.child.kill(signal);
      return server.done;
    },
  };
}

if (testBackends().some((backend) => backend.name === 'postgres')) {
  const test = suite('entity-sync pull: a served source, a target through the CLI [postgres]');
  let backend: TestBackend;
  let source: MikroORM;
  let target: MikroORM;
  let served: Source;
  let dirs: string[];
  let sourceFiles: LocalDirectoryStorage;
  const bodies: string[] = [];

  /** `entity-sync --config pull-target.config.ts pull <url> ...args` against `targetOrm` (default the target). */
  const pull = async (args: string[], options: { url?: string; token?: string | null; targetOrm?: MikroORM; env?: Record<string, string> } = {}): Promise<Run> => {
    const env: Record<string, string> = { ES_TARGET_URL: (options.targetOrm ?? target).config.get('clientUrl')!, ES_TARGET_FILES: dirs[1]!, ...options.env };
    if (options.token !== null) env.ENTITY_SYNC_TOKEN = options.token ?? STATIC_TOKEN;
    const run = await spawnTs(join(root, 'packages/cli/bin/entity-sync.js'), ['--config', join(fixtures, 'pull-target.config.ts'), 'pull', options.url ?? served.url, ...args], env).done;
    bodies.push(run.stdout, run.stderr);
    assert.not.match(run.stdout + run.stderr, STATIC_TOKEN, 'the token is never printed');
    return run;
  };
  const pullJson = async (args: string[]): Promise<PullReport> => {
    const run = await pull([...args, '--json']);
    assert.is(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as PullReport;
  };
  const counts = (report: PullReport) => Object.fromEntries(report.models.map((m) => [m.model, [m.created, m.updated, m.deleted, m.unchanged]]));
  const model = (report: PullReport, name: string) => report.models.find((entry) => entry.model === name)!;
  const raw = async (path: string, token?: string) => {
    const response = await fetch(`${served.url}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    const body = await response.text();
    bodies.push(body);
    return { status: response.status, body, json: () => JSON.parse(body) as { error: { code: string; message: string } } };
  };

  test.before(async () => {
    backend = getBackend('postgres');
    dirs = [await mkdtemp(join(tmpdir(), 'es-pull-src-')), await mkdtemp(join(tmpdir(), 'es-pull-dst-'))];
    sourceFiles = new LocalDirectoryStorage(dirs[0]!);
    source = await openReferenceDb(backend);
    target = await openReferenceDb(backend);
    await seedSource(source, await sourceFiles.write(sha256('terms v1'), Readable.from([Buffer.from('terms v1')])));
    await shiftSequences(target);
    served = await startSource(source.config.get('clientUrl')!, dirs[0]!, { ES_SERVED_MODELS: SERVED.join(',') });
  });
  test.after(async () => {
    await served?.kill('SIGTERM');
    await source?.close();
    await target?.close();
    for (const dir of dirs ?? []) await rm(dir, { recursive: true, force: true });
  });

  test('a first pull creates every row with the target\'s own ids, references by natural key, and downloads the file', async () => {
    const run = await pull([]);
    assert.is(run.code, 0, run.stderr);
    assert.match(run.stdout, `pulled from ${served.url}`);
    assert.match(run.stdout, /Country\s+3 created, 0 updated, 0 deleted, 0 unchanged/);
    assert.match(run.stdout, /EmailTemplate\s+1 created, 0 updated, 0 deleted, 0 unchanged, 1 file\(s\) downloaded/);
    const em = target.em.fork();
    assert.is(await em.count(City), 4);
    assert.is(await em.count(Language), 4);
    const ch = await em.findOneOrFail(Country, { code: 'CH' }, { populate: ['capital', 'currency'] });
    assert.is.not(ch.id, (await source.em.fork().findOneOrFail(Country, { code: 'CH' })).id, 'the target gave its own id');
    assert.is(ch.capital?.name, 'Bern');
    assert.is(ch.currency.code, 'CHF');
    assert.is(ch.internalNote, null);
    assert.is((await em.findOneOrFail(CopyText, { key: 'greeting.formal' }, { populate: ['fallback'] })).fallback?.key, 'greeting');
    assert.is((await em.findOneOrFail(EmailTemplate, { name: 'welcome' })).attachment, LocalDirectoryStorage.refOf(sha256('terms v1')));
    assert.is(await served.fileRequests(), 1);
  });

  test('a second pull writes nothing: every row unchanged, no UPDATE on any table, no file downloaded', async () => {
    const before = await updates(target);
    const files = await served.fileRequests();
    const report = await pullJson([]);
    assert.equal(counts(report), {
      Currency: [0, 0, 0, 2], Country: [0, 0, 0, 3], City: [0, 0, 0, 4], Language: [0, 0, 0, 4], CopyText: [0, 0, 0, 2], EmailTemplate: [0, 0, 0, 1],
    });
    assert.equal(await updates(target), before);
    assert.is(await served.fileRequests(), files);
  });

  test('a changed source row: the dry run shows the field old -> new and writes nothing; the pull updates it and only it', async () => {
    const em = source.em.fork();
    (await em.findOneOrFail(Country, { code: 'DE' })).name = 'Deutschland';
    await em.flush();
    const checksums = await tableChecksums(target);
    const dry = await pull(['--dry-run']);
    assert.is(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, 'nothing was written');
    assert.match(dry.stdout, /Country\s+0 to create, 1 to update, 0 to delete, 2 unchanged\n\s+~ DE\n\s+name: "Germany" -> "Deutschland"/);
    assert.equal(await tableChecksums(target), checksums);

    const before = await updates(target);
    const report = await pullJson([]);
    assert.equal(model(report, 'Country').rows.updated, [{ key: ['DE'], changes: [{ field: 'name', old: 'Germany', new: 'Deutschland' }] }]);
    assert.equal(counts(report).Country, [0, 1, 0, 2]);
    const after = await updates(target);
    assert.equal(after, { ...before, country: (before.country ?? 0) + 1 }, 'one UPDATE, on country');
    assert.is((await target.em.fork().findOneOrFail(Country, { code: 'DE' })).name, 'Deutschland');
  });

  test('a new row whose foreign key points at a row created in the same pull is inserted', async () => {
    const em = source.em.fork();
    const eur = (await em.findOneOrFail(Country, { code: 'FR' }, { populate: ['currency'] })).currency;
    const at = em.create(Country, { code: 'AT', name: 'Austria', currency: eur });
    await em.flush();
    at.capital = em.create(City, { country: at, name: 'Wien' });
    em.create(Language, { country: at, code: 'de', name: 'Österreichisches Deutsch' });
    await em.flush();
    const report = await pullJson([]);
    assert.equal(model(report, 'Country').rows.created, [{ key: ['AT'] }]);
    assert.equal(model(report, 'Language').rows.created, [{ key: ['AT', 'de'] }]);
    const austria = await target.em.fork().findOneOrFail(Country, { code: 'AT' }, { populate: ['capital'] });
    assert.is(austria.capital?.name, 'Wien');
    assert.is((await target.em.fork().findOneOrFail(Language, { country: austria, code: 'de' })).name, 'Österreichisches Deutsch');
  });

  test('a renamed natural key shows as delete + create in the dry run, as JSON and readable, and nothing is written', async () => {
    const em = source.em.fork();
    (await em.findOneOrFail(CopyText, { key: 'greeting' })).key = 'salutation';
    await em.flush();
    const checksums = await tableChecksums(target);
    const report = await pullJson(['--dry-run', '--delete-missing']);
    assert.is(report.dryRun, true);
    assert.equal(model(report, 'CopyText').rows.created, [{ key: ['salutation'] }]);
    assert.equal(model(report, 'CopyText').rows.deleted, [{ key: ['greeting'] }]);
    const readable = await pull(['--dry-run', '--delete-missing']);
    assert.is(readable.code, 0, readable.stderr);
    assert.match(readable.stdout, /CopyText\s+1 to create, 1 to update, 1 to delete, 0 unchanged\n\s+\+ salutation\n\s+~ greeting.formal\n.*\n\s+- greeting/);
    assert.match(readable.stdout, 'nothing was written');
    assert.equal(await tableChecksums(target), checksums);
  });

  test('--delete-missing removes exactly the rows the source lacks', async () => {
    const em = source.em.fork();
    em.remove(await em.find(Language, { code: 'fr' }));
    await em.flush();
    const report = await pullJson(['--delete-missing']);
    assert.equal(model(report, 'Language').rows.deleted.map((row) => row.key).sort(), [['CH', 'fr'], ['FR', 'fr']]);
    assert.equal(model(report, 'CopyText').rows.deleted, [{ key: ['greeting'] }]);
    assert.equal(report.models.filter((m) => m.deleted > 0).map((m) => m.model).sort(), ['CopyText', 'Language']);
    const tem = target.em.fork();
    assert.equal((await tem.find(Language, {}, { orderBy: { name: 'asc' } })).map((language) => language.name), ['Deutsch', 'Schweizerdeutsch', 'Österreichisches Deutsch']);
    assert.equal((await tem.find(CopyText, {}, { orderBy: { key: 'asc' } })).map((text) => text.key), ['greeting.formal', 'salutation']);
    assert.is(await tem.count(Country), 4);
  });

  test('--delete-missing refuses a delete that would cascade to a table outside the pull: typed error, exit 1, nothing written', async () => {
    await orderCountryGoneFromSource(source, target, 'DE');
    const checksums = await tableChecksums(target);
    const run = await pull(['--delete-missing', '--json']);
    assert.is(run.code, 1, run.stdout);
    const { error } = JSON.parse(run.stdout) as { error: { code: string; message: string } };
    assert.is(error.code, 'ENV_SYNC_DELETE_REFUSED');
    assert.match(error.message, /customer_order/);
    assert.match(error.message, /CASCADE/);
    assert.match(run.stderr, 'error [ENV_SYNC_DELETE_REFUSED]');
    assert.equal(await tableChecksums(target), checksums);
  });

  test('a file changed at the source is downloaded, unchanged files are not (counted at the server)', async () => {
    const files = await served.fileRequests();
    const unchanged = await pullJson([]);
    assert.is(model(unchanged, 'EmailTemplate').filesFetched, 0);
    assert.is(await served.fileRequests(), files, 'the unchanged file is not asked for');

    const em = source.em.fork();
    em.create(EmailTemplate, { name: 'reset', subject: 'Reset', attachment: await sourceFiles.write(sha256('reset v1'), Readable.from([Buffer.from('reset v1')])) });
    (await em.findOneOrFail(EmailTemplate, { name: 'welcome' })).attachment = await sourceFiles.write(sha256('terms v2'), Readable.from([Buffer.from('terms v2')]));
    await em.flush();
    const report = await pullJson([]);
    assert.is(model(report, 'EmailTemplate').filesFetched, 2);
    assert.is(await served.fileRequests(), files + 2, 'one request per new content, none for the rest');
    const tem = target.em.fork();
    assert.is((await tem.findOneOrFail(EmailTemplate, { name: 'welcome' })).attachment, LocalDirectoryStorage.refOf(sha256('terms v2')));
    assert.ok(await new LocalDirectoryStorage(dirs[1]!).has(sha256('reset v1')));
  });

  test('no token, a wrong token, an expired JWT, alg none, a JWT signed with another key: 401, no row served', async () => {
    const payload = { sub: 'staging', roles: ['env-sync:pull'], iat: now(), exp: now() + 600 };
    const refused = {
      none: undefined,
      wrong: 'wrong-token-wrong-token-wrong-token',
      expired: await jwt({ iat: now() - 1200, exp: now() - 600 }),
      algNone: `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`,
      otherKey: await jwt({}, 'another-secret-of-at-least-32-bytes-long!!'),
    };
    const hash = sha256('terms v2');
    for (const [what, token] of Object.entries(refused)) {
      for (const path of ['/export', `/files/${hash}`]) {
        const answer = await raw(path, token);
        assert.is(answer.status, 401, `${what} ${path}: ${answer.body}`);
        assert.match(answer.json().error.code, /^AUTH_(REQUIRED|INVALID)$/);
        assert.not.match(answer.body, /France|entity-sync-env|terms/, `${what} ${path} served nothing`);
      }
    }
    const cli = await pull(['--json'], { token: refused.expired });
    assert.is(cli.code, 1);
    assert.is((JSON.parse(cli.stdout) as { error: { code: string } }).error.code, 'AUTH_INVALID');
    const valid = await raw('/export', await jwt({}));
    assert.is(valid.status, 200, 'a valid JWT is served');
    assert.match(valid.body, '"France"');
    const withoutRight = await raw('/export', await jwt({ roles: ['read'] }));
    assert.is(withoutRight.status, 403, withoutRight.body);
    assert.is(withoutRight.json().error.code, 'AUTH_FORBIDDEN');
  });

  test('a malformed query is 400 naming the field; a model the source does not serve is 403 and a typed CLI error; bad flags and a storage export that is no FileStorage are refused', async () => {
    for (const query of ['?models=Bad-Name', '?models=Country;drop']) {
      const answer = await raw(`/export${query}`, STATIC_TOKEN);
      assert.is(answer.status, 400, answer.body);
      assert.is(answer.json().error.code, 'REQUEST_INVALID');
      assert.match(answer.json().error.message, 'models');
    }
    const hash = await raw('/files/not-a-hash', STATIC_TOKEN);
    assert.is(hash.status, 400, hash.body);
    assert.match(hash.json().error.message, 'hash');
    const outside = await raw('/export?models=Country,CustomerOrder', STATIC_TOKEN);
    assert.is(outside.status, 403, outside.body);
    assert.is(outside.json().error.code, 'ENV_SYNC_MODEL_NOT_SERVED');
    const cli = await pull(['--models', 'CustomerOrder', '--json']);
    assert.is(cli.code, 1, cli.stdout);
    assert.is((JSON.parse(cli.stdout) as { error: { code: string } }).error.code, 'ENV_SYNC_MODEL_NOT_SERVED');
    const usage = await pull(['--models', ',']);
    assert.is(usage.code, 2, usage.stderr);
    const storage = await pull([], { env: { ES_TARGET_STORAGE: 'not-a-storage' } });
    assert.is(storage.code, 1, storage.stderr);
    assert.match(storage.stderr, 'error [CONFIG_INVALID]: The storage export of');
    assert.match(storage.stderr, 'is not a FileStorage (no read, write, delete)');
  });

  test('an excluded column appears in no byte of any response or output', async () => {
    const exported = await raw('/export', STATIC_TOKEN);
    assert.is(exported.status, 200);
    assert.match(exported.body, '"Switzerland"');
    const dry = await pull(['--dry-run', '--json']);
    assert.is(dry.code, 0, dry.stderr);
    const readable = await pull(['--dry-run']);
    assert.is(readable.code, 0, readable.stderr);
    // every response body and every CLI output of this suite so far
    for (const body of bodies) {
      assert.not.match(body, /SECRET-NOTE/);
      assert.not.match(body, /internal_?note/i);
    }
  });

  test('a target whose columns differ is refused with the differences (SCHEMA_MISMATCH), nothing written', async () => {
    const other = await openReferenceDb(backend);
    try {
      await backend.executeScript(other, 'alter table country add column iso_numeric int; alter table city alter column name type varchar(40)');
      const checksums = await tableChecksums(other);
      const run = await pull(['--json'], { targetOrm: other });
      assert.is(run.code, 1, run.stdout);
      const { error } = JSON.parse(run.stdout) as { error: { code: string; info: { differences: unknown[] } } };
      assert.is(error.code, 'SCHEMA_MISMATCH');
      assert.equal(error.info.differences, [
        { entity: 'Country', column: 'iso_numeric', problem: 'column exists in the target but not in the source' },
        { entity: 'City', column: 'name', problem: 'type is character varying(255) in the source, character varying(40) in the target' },
      ]);
      const readable = await pull([], { targetOrm: other });
      assert.is(readable.code, 1);
      assert.match(readable.stderr, 'error [SCHEMA_MISMATCH]');
      assert.match(readable.stderr, 'Country.iso_numeric: column exists in the target but not in the source');
      assert.equal(await tableChecksums(other), checksums);
    } finally {
      await other.close();
    }
  });

  test('the source killed mid-stream leaves the target unchanged and the CLI fails typed (exit 1)', async () => {
    const big = await openReferenceDb(backend);
    let dying: Source | undefined;
    try {
      await seedSource(big, null);
      await backend.executeScript(big, "insert into copy_text (key, text) select 'bulk-' || g, repeat('x', 120) from generate_series(1, 300000) g");
      dying = await startSource(big.config.get('clientUrl')!, dirs[0]!, { ES_REPORT_AFTER_BYTES: String(1024 * 1024) });
      // what fails before the first line answers with its status, not a 200 broken off
      const invalid = await fetch(`${dying.url}/export?models=CustomerOrder`, { headers: { authorization: `Bearer ${STATIC_TOKEN}` } });
      assert.is(invalid.status, 400, await invalid.clone().text());
      assert.is(((await invalid.json()) as { error: { code: string } }).error.code, 'ENV_SYNC_MODEL_INVALID');

      const checksums = await tableChecksums(target);
      const files = await readdir(dirs[1]!, { recursive: true });
      const running = pull(['--json'], { url: dying.url });
      const server = dying;
      await until('the export has sent its first megabyte', () => /streamed \d+/.test(server.output().stdout), 60_000, 20);
      await dying.kill('SIGKILL');
      const run = await running;
      assert.is(run.code, 1, run.stdout);
      const { error } = JSON.parse(run.stdout) as { error: { code: string } };
      assert.ok(['TRANSPORT_UNAVAILABLE', 'ENV_SYNC_STREAM_INVALID'].includes(error.code), run.stdout);
      assert.equal(await tableChecksums(target), checksums);
      assert.equal(await readdir(dirs[1]!, { recursive: true }), files);
    } finally {
      await dying?.kill('SIGKILL');
      await big.close();
    }
  });

  test.run();
}
