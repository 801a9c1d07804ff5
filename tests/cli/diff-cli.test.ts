// `entity-sync diff <left> <right> --key ...`: a CSV file, an NDJSON file, a postgres:// table and
// an entity of the app's config compared by key, in-process (runCli) against real PostgreSQL; the
// readable report and --json; a side it cannot read is a usage error.
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { runCli } from '@entity-sync/cli';
import { getBackend, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CliNote } from './fixtures/audit-entities.js';

const root = fileURLToPath(new URL('../..', import.meta.url)).replace(/^\/+/, '/');
const config = `${root}tests/cli/fixtures/audit.config.ts`;

if (testBackends().some((backend) => backend.name === 'postgres')) {
  const test = suite('entity-sync CLI: diff [postgres]');
  let orm: MikroORM;
  let dir: string;
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['--config', config, ...args], { out: (text) => out.push(text), err: (text) => err.push(text), cwd: dir });
    return { code, out: out.join('\n'), err: err.join('') };
  };

  test.before(async () => {
    orm = await getBackend('postgres').createOrm({ entities: [CliNote], extensions: [EntitySync] });
    process.env.ES_TEST_DB_URL = orm.config.get('clientUrl')!;
    await orm.em.getConnection().execute(`insert into cli_note (id, text, secret) values (1, 'one', null), (2, 'two', 's'), (3, 'three', null), (10, 'ten', null)`);
    dir = mkdtempSync(join(tmpdir(), 'entity-sync-diff-cli-'));
    writeFileSync(join(dir, 'notes.csv'), 'id,text\n1,one\n2,TWO\n4,four\n10,ten\n');
    writeFileSync(join(dir, 'notes.ndjson'), '{"id":1,"text":"one","secret":null}\n{"id":3,"text":"three","secret":null}\n{"id":3,"text":"again","secret":null}\n');
  });
  test.after(async () => {
    delete process.env.ES_TEST_DB_URL;
    rmSync(dir, { recursive: true, force: true });
    await orm.close();
  });

  test('a CSV against a postgres:// table, as text: the report of what to create, update and delete', async () => {
    const url = `${orm.config.get('clientUrl')}#cli_note`;
    const result = await cli('diff', 'notes.csv', url, '--key', 'id', '--fields', 'text');
    assert.is(result.code, 0, result.err);
    const lines = result.out.split('\n');
    assert.match(lines[0]!, /^notes\.csv > postgres(ql)?:\/\/.*#cli_note: 1 to create, 1 to update, 1 to delete, 2 the same \(hash\)$/);
    assert.equal(lines.slice(1), ['  ~ 2', '      text: "two" -> "TWO"', '  + 4', '  - 3']);
  });

  test('an entity of the config against NDJSON, as JSON: a duplicate key is a problem with both records; a table against itself is compared in one query', async () => {
    const result = await cli('diff', 'CliNote', 'notes.ndjson', '--key', 'id', '--json');
    assert.is(result.code, 0, result.err);
    const parsed = JSON.parse(result.out) as { counts: Record<string, number>; problems: { problem: string; key: unknown[]; records: unknown[] }[]; actions: { action: string; key: unknown[] }[] };
    assert.equal(parsed.counts, { create: 2, update: 0, delete: 0, unchanged: 1, problems: 1 });
    assert.equal(parsed.problems.map((problem) => [problem.problem, problem.key, problem.records.length]), [['duplicate-key', [3], 2]]);
    assert.equal(parsed.actions.map((action) => [action.action, action.key]), [['create', [2]], ['create', [10]]]);
    const url = `${orm.config.get('clientUrl')}#public.cli_note`;
    const same = JSON.parse((await cli('diff', url, url, '--key', 'id', '--json')).out) as { strategy: string; counts: Record<string, number> };
    assert.equal([same.strategy, same.counts.unchanged, same.counts.create + same.counts.update + same.counts.delete], ['sql', 4, 0], 'two tables of one database: compared there');
  });

  test('a side it cannot read is a usage error naming it', async () => {
    const bad = await cli('diff', 'notes.txt', 'notes.csv', '--key', 'id');
    assert.is(bad.code, 2);
    assert.match(bad.err, "'notes.txt' is neither a .csv or .ndjson file");
    const noTable = await cli('diff', 'notes.csv', 'postgres://127.0.0.1/db', '--key', 'id');
    assert.is(noTable.code, 2);
    assert.match(noTable.err, 'name the table after a #');
  });

  test.run();
}
