// The project's runner gives every test a deadline, and the whole run one: a hang fails, named, and ends.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { killAfter } from '../support/child-deadline.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runner(env: Record<string, string>, file: string = 'hangs'): Promise<{ code: number | null; output: string; seconds: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'scripts/run-tests.mjs'), `^tests/harness/hanging/${file}\\.case\\.ts$`],
      { cwd: root, env: { ...process.env, ...env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    killAfter(child, 60_000, 'the test runner', () => ({ stdout, stderr }), reject);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: (stdout + stderr).replace(/\x1b\[[0-9;]*m/g, ''), seconds: (Date.now() - started) / 1000 }));
  });
}

const test = suite('test harness');

test('a test that never finishes fails after its timeout, named, and the run goes on to the summary', async () => {
  const run = await runner({ ENTITY_SYNC_TEST_TIMEOUT_MS: '1500' });
  assert.is(run.code, 1, run.output);
  assert.match(run.output, 'timed out after 1.5 s: harness case > never finishes');
  assert.match(run.output, /^1 passed, 1 failed$/m);
  assert.ok(run.seconds < 45, `the run took ${run.seconds} s`);
});

test('a suite that names its own deadline in its context gets it, in place of the runner\'s', async () => {
  const run = await runner({ ENTITY_SYNC_TEST_TIMEOUT_MS: '1000' }, 'own-deadline');
  assert.is(run.code, 1, run.output);
  assert.match(run.output, 'timed out after 1 s: default deadline case > takes 2 s');
  assert.not.match(run.output, 'own deadline case > takes 2 s');
  assert.match(run.output, /^1 passed, 1 failed$/m);
});

test('a run that outlives its deadline is killed and fails', async () => {
  const run = await runner({ ENTITY_SYNC_TEST_TIMEOUT_MS: '600000', ENTITY_SYNC_TEST_RUN_DEADLINE_MS: '4000' });
  assert.is(run.code, 1, run.output);
  assert.match(run.output, 'the test run passed its deadline of 4 s and was killed');
  assert.match(run.output, /^0 passed, 1 failed$/m);
});

test('a process that something a test opened keeps alive after the last test exits, saying what was open', async () => {
  const run = await runner({ ENTITY_SYNC_TEST_EXIT_GRACE_MS: '1000' }, 'leaks');
  assert.is(run.code, 0, run.output);
  assert.match(run.output, 'warning: the test process was still held open 1 s after its last test by: Server, Timeout;');
  assert.match(run.output, /^1 passed, 0 failed$/m);
  assert.ok(run.seconds < 45, `the run took ${run.seconds} s`);
});

test('the files of ENTITY_SYNC_TEST_SKIP_FILES are left out of the run, and the others run', async () => {
  const run = await runner({ ENTITY_SYNC_TEST_SKIP_FILES: 'tests/harness/hanging/hangs.case.ts, tests/harness/hanging/leaks.case.ts' }, '(hangs|leaks|passes)');
  assert.is(run.code, 0, run.output);
  assert.match(run.output, 'leaving out 2 test files');
  assert.not.match(run.output, 'harness case');
  assert.not.match(run.output, 'leaking case');
  assert.match(run.output, /^2 passed, 0 failed$/m);
});

test('the files are spread over ENTITY_SYNC_TEST_PROCESSES processes, every one runs, and the summary counts them all', async () => {
  const run = await runner({ ENTITY_SYNC_TEST_PROCESSES: '2', ENTITY_SYNC_TEST_TIMEOUT_MS: '1000' }, '(hangs|passes)');
  assert.is(run.code, 1, run.output);
  assert.match(run.output, '2 test files in 2 processes');
  assert.match(run.output, '---- test process 2 of 2 ----');
  assert.match(run.output, 'timed out after 1 s: harness case > never finishes');
  assert.match(run.output, 'passing case');
  assert.match(run.output, /^3 passed, 1 failed$/m);
  // the failure of either process is repeated at the end
  assert.match(run.output.slice(run.output.lastIndexOf('---- failures, repeated from above ----')), 'never finishes');
});

test('a pattern that matches no test file fails the run, saying so', async () => {
  const run = await runner({}, 'no-such-case');
  assert.is(run.code, 1, run.output);
  assert.match(run.output, 'no test file matches');
  assert.match(run.output, /^0 passed, 1 failed$/m);
});

test('ENTITY_SYNC_TEST_TIMINGS receives the time of every suite, slowest first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'entity-sync-timings-'));
  try {
    const run = await runner({ ENTITY_SYNC_TEST_TIMINGS: join(dir, 'timings.txt'), ENTITY_SYNC_TEST_TIMEOUT_MS: '1000' }, '(hangs|passes)');
    assert.is(run.code, 1, run.output);
    const rows = readFileSync(join(dir, 'timings.txt'), 'utf8').trim().split('\n').map((line) => /^\s*([\d.]+) s {2}(.+)$/.exec(line)!.slice(1));
    assert.equal(rows.map(([, name]) => name), ['harness case', 'passing case']);
    assert.ok(Number(rows[0]![0]) >= 1 && Number(rows[1]![0]) >= 0.3, rows.join('; '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
