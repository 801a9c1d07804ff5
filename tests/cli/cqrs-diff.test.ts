import 'reflect-metadata';
import { EntitySync, installOutbox, installReplica, ReplicaApplier } from '@entity-sync/adapters/mikro-orm';
import { pgClient, PostgresTransport } from '@entity-sync/adapters/postgres';
import { getBackend, testBackends } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RepairPrice, RepairPriceCopy } from '../cqrs/repair-entities.js';
import { replicate } from '../cqrs/repair-support.js';
import { CHILD_DEADLINE_MS, killAfter } from '../support/child-deadline.js';
import { until } from '../support/until.js';

// spawned processes compile the repository's TypeScript files only (scripts/test-harness/ts-hooks.mjs); under the
// test runner import.meta.url is file:////..., whose path would start with //
const TS_REGISTER = fileURLToPath(new URL('../../scripts/test-harness/ts-register.mjs', import.meta.url)).replace(/^\/+/, '/');

// `cqrs diff-master | diff-replica | diff-sync` as a user pipes them across two databases: a
// replica row edited in place at its current revision is found, re-published and repaired.

const root = fileURLToPath(new URL('../..', import.meta.url));
const QUEUE = 'repair-cli';

interface Run { code: number | null; stdout: string; stderr: string }

function shell(command: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd: root, env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json'), ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    killAfter(child, CHILD_DEADLINE_MS, command, () => ({ stdout, stderr }), reject);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const node = `'${process.execPath}' --import '${TS_REGISTER}' '${join(root, 'packages/cli/bin/entity-sync.js')}'`;
const side = (config: string) => `${node} --config '${join(root, 'tests/cli/fixtures', config)}' cqrs`;
const diffPipe = (masterArgs = '') => `${side('repair-master.config.ts')} diff-master --id repair-price ${masterArgs} | ${side('repair-replica.config.ts')} diff-replica`;

if (testBackends().some((backend) => backend.name === 'postgres')) {
  const test = suite('entity-sync cqrs diff pipeline [postgres]');

  test('diff-master | diff-replica | diff-sync finds a replica row edited at its revision, and the consumer repairs it', async () => {
    const backend = getBackend('postgres');
    const master = await backend.createOrm({ entities: [RepairPrice], extensions: [EntitySync] });
    const replica = await backend.createOrm({ entities: [RepairPriceCopy], extensions: [EntitySync] });
    const pool = new pg.Pool({ connectionString: master.config.get('clientUrl'), max: 2 });
    const transport = new PostgresTransport(pgClient(pool));
    const dir = mkdtempSync(join(tmpdir(), 'entity-sync-cli-diff-'));
    try {
      await installOutbox(master.em.fork());
      await installReplica(replica.em.fork());
      const em = master.em.fork();
      for (let i = 1; i <= 3; i++) {
        em.create(RepairPrice, { id: i, name: `Price ${i}`, note: `note ${i}`, code: `C${i}`, amount: `${i}.5`, validFrom: new Date(Date.UTC(2024, 0, i)), attributes: { a: i } });
      }
      await em.flush();
      const applier = new ReplicaApplier(replica.em.fork());
      await replicate(master, applier);
      const label = async (id: number) => (await replica.em.fork().findOneOrFail(RepairPriceCopy, id)).label;
      await replica.em.getConnection().execute("update repair_price_copy set label = 'Edited by hand', amount = '2.50' where id = 2");

      const env = { ES_MASTER_URL: master.config.get('clientUrl')!, ES_REPLICA_URL: replica.config.get('clientUrl')!, ENTITY_SYNC_TRANSPORT: master.config.get('clientUrl')! };
      const revisionsOnly = await shell(diffPipe('--no-content'), env);
      assert.is(revisionsOnly.code, 0, revisionsOnly.stderr);
      assert.equal(revisionsOnly.stdout.trim().split('\n').slice(1).map((line) => JSON.parse(line)), [{ end: true, missing: 0, stale: 0, extra: 0 }],
        'revisions alone do not show the edit');

      await transport.install();
      await transport.declareQueue(QUEUE, ['repair-price']);
      const report = join(dir, 'report.ndjson');
      const run = await shell(`${diffPipe()} | tee '${report}' | ${side('repair-master.config.ts')} diff-sync --queue ${QUEUE} --json`, env);
      assert.is(run.code, 0, run.stderr);
      assert.equal(JSON.parse(run.stdout), { republished: 1, deleted: 0 }, run.stderr);
      const lines = readFileSync(report, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.equal(lines.slice(1), [{ kind: 'changed', key: [2], revision: 1, fields: ['label'] }, { end: true, missing: 0, stale: 0, extra: 0, changed: 1 }],
        'the label is drift, 2.50 for 2.5 is not');

      const subscription = await transport.subscribe(QUEUE, applier.cqrsIds, async (message) => void await applier.apply(message));
      try {
        await until('the consumer to repair the row', async () => await label(2) === 'Price 2');
      } finally {
        await subscription.stop();
      }
      const again = await shell(diffPipe(), env);
      assert.is(again.code, 0, again.stderr);
      assert.equal(again.stdout.trim().split('\n').slice(1).map((line) => JSON.parse(line)), [{ end: true, missing: 0, stale: 0, extra: 0, changed: 0 }]);
    } finally {
      await transport.close();
      await pool.end();
      await master.close();
      await replica.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.run();
}
