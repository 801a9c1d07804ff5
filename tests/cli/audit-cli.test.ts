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

  test.run();
}
