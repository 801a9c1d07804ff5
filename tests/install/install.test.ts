// entity-sync installed as an app installs it: packed tarballs, npm, an app outside the workspace
// (ESM and CommonJS type checks, a run on PGlite, the CLI). See scripts/install-test/run.mjs.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { killAfter } from '../support/child-deadline.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// two npm installs from the registry, two type checks and a run: about 70 s on an idle machine, up to three times that
// while the other lane runs beside it, so the suite has a deadline of its own, and the child one within it
const DEADLINE_MS = 320_000;

const test = suite('install into an app outside the workspace', { timeoutMs: 330_000 });

test('packed packages install with npm, type-check as ESM and CommonJS, run on PGlite, and the CLI runs from the app', async () => {
  const child = spawn(process.execPath, [join(root, 'scripts/install-test/run.mjs')], { cwd: root, env: { ...process.env, ENTITY_SYNC_INSTALL_DEADLINE_MS: '150000' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  let killed: Error | undefined;
  killAfter(child, DEADLINE_MS, 'scripts/install-test/run.mjs', () => ({ stdout, stderr }), (error) => (killed = error));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (killed) throw killed;
  const failures = stdout.split('\n').filter((line) => line.startsWith('FAIL'));
  assert.equal(failures, [], stdout + stderr);
  assert.is(code, 0, stdout + stderr);
  assert.match(stdout, /^\d+ passed, 0 failed$/m);
  for (const check of ['ESM (module NodeNext)', 'CommonJS settings', 'runs on PGlite', 'npx entity-sync --version', 'gets no amqplib, commander']) {
    assert.match(stdout, check, `the install test ran "${check}"`);
  }
});

test.run();
