// `entity-sync api install` sets up the change capture and the audit trail; `entity-sync audit list`
// prints the trail as NDJSON with its filters; `entity-sync audit prune` applies each model's
// retention or the one asked for. Run in-process (runCli) against real PostgreSQL.
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { runCli } from '@entity-sync/cli';
import { getBackend, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CliNote } from './fixtures/audit-entities.js';

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/^\/+/, '/');
const config = `${root}tests/cli/fixtures/audit.config.ts`;

if (testBackends().some((backend) => backend.name === 'postgres')) {
  const test = suite('entity-sync CLI: api install, audit list and prune [postgres]');
  let orm: MikroORM;
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--config', config, ...args], { out: (text) => out.push(text), err: (text) => err.push(text), cwd: root });
    return { code, out: out.join('\n'), err: err.join('') };
  };
  const sql = (text: string) => orm.em.getConnection().execute(text);

  test.before(async () => {
    orm = await getBackend('postgres').createOrm({ entities: [CliNote], extensions: [EntitySync] });
    process.env.ES_TEST_DB_URL = orm.config.get('clientUrl')!;
  });
  test.after(async () => {
    delete process.env.ES_TEST_DB_URL;
    await orm.close();
  });

  test('api models lists what is served; api install, then the trail listed with filters, pruned by retention and by age; bad options are usage errors', async () => {
    const models = await cli('api', 'models');
    assert.is(models.code, 0, models.err);
    assert.equal(models.out.split('\n'), ['CliNote (table cli_note, @SyncModel; key id; shared by every tenant; audited)', '  fields: id, text, secret'],
      'audit.exclude keeps a property out of the trail, not out of sync');
    assert.equal(JSON.parse((await cli('api', 'models', '--json')).out).models.map((model: { model: string }) => model.model), ['CliNote']);
    const installed = await cli('api', 'install');
    assert.is(installed.code, 0, installed.err);
    assert.match(installed.out, 'audit trail: CliNote');
    await sql(`insert into cli_note (id, text, secret) values (1, 'one', 'hidden'), (2, 'two', null)`);
    await sql(`update cli_note set text = 'uno' where id = 1`);
    await sql(`update cli_note set text = 'eins', secret = 'more' where id = 1`);
    const listed = await cli('audit', 'list', '--model', 'CliNote', '--key', '1');
    assert.is(listed.code, 0, listed.err);
    const entries = listed.out.split('\n').map((line) => JSON.parse(line) as { operation: string; changes: Record<string, unknown> });
    assert.equal(entries.map((entry) => [entry.operation, entry.changes]), [
      ['update', { text: { old: 'uno', new: 'eins' } }], ['update', { text: { old: 'one', new: 'uno' } }], ['create', { id: { new: 1 }, text: { new: 'one' } }],
    ]);
    assert.is((await cli('audit', 'list', '--limit', '2')).out.split('\n').length, 2);
    const pruned = await cli('audit', 'prune', '--json');
    assert.equal(JSON.parse(pruned.out), { removed: { CliNote: 2 } }, 'keep: 2 of 4');
    assert.equal(JSON.parse((await cli('audit', 'prune', '--older-than', '0s', '--json')).out), { removed: { CliNote: 2 } });
    assert.is((await cli('audit', 'list')).out, '');
    const bad = await cli('audit', 'prune', '--older-than', 'soon');
    assert.is(bad.code, 2);
    assert.match(bad.err, 'expected an age such as 90d');
    const unknown = await cli('audit', 'list', '--model', 'Nope');
    assert.is(unknown.code, 1);
    assert.match(unknown.err, 'error [AUDIT_MODEL_NOT_AUDITED]');
  });

  test('log export prints the sync log as CSV or NDJSON with its filters; log prune applies retention', async () => {
    assert.is((await cli('api', 'install')).code, 0);
    await sql(`insert into entity_sync_log (user_id, roles, tenant, client_id, endpoint, models, rows_in, rows_out, conflicts, refused, duration_ms, status, error_code) values
      ('ada', '{member}', 'acme', 'phone', 'pull', '{CliNote}', 0, 5, 0, 0, 3.5, 200, null),
      ('bob', '{member}', 'acme', 'tablet', 'push', '{CliNote}', 2, 0, 0, 1, 7, 403, 'PUSH_PULL_FORBIDDEN')`);
    const csv = await cli('log', 'export');
    assert.is(csv.code, 0, csv.err);
    const lines = csv.out.split('\n');
    assert.is(lines[0], 'id,at,user,roles,tenant,client,endpoint,models,rowsIn,rowsOut,conflicts,refused,durationMs,status,errorCode');
    assert.equal(lines.slice(1).map((line) => line.split(',')[2]), ['bob', 'ada']);
    const failed = await cli('log', 'export', '--format', 'ndjson', '--failed');
    assert.equal(failed.out.split('\n').map((line) => (JSON.parse(line) as { user: string; errorCode: string }).errorCode), ['PUSH_PULL_FORBIDDEN']);
    assert.equal(JSON.parse((await cli('log', 'prune', '--keep', '1', '--json')).out), { removed: 1 });
    assert.equal((await cli('log', 'export', '--format', 'ndjson')).out.split('\n').length, 1);
    assert.is((await cli('log', 'prune')).code, 1, 'neither --older-than nor --keep: refused');
  });

  test.run();
}
