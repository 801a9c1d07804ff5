// Runs every test file in one uvu process (one shared PGlite instance, one PostgreSQL
// cluster) and ends with the summary line CI reads: `N passed, N failed`. Every test and hook
// has a deadline (scripts/test-harness, ENTITY_SYNC_TEST_TIMEOUT_MS), and so has the whole run
// (ENTITY_SYNC_TEST_RUN_DEADLINE_MS, default 30 minutes): past it the run is killed and fails.
// ENTITY_SYNC_TEST_SKIP_FILES: test files (paths from the root, separated by commas) left out of
// this run, as the MikroORM 7 lane leaves out the files that do not touch MikroORM.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pattern = process.argv[2] ?? '(^|/)test/.*\\.test\\.ts$|^tests/.*\\.test\\.ts$';
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const skipped = (process.env.ENTITY_SYNC_TEST_SKIP_FILES ?? '').split(',').map((file) => file.trim()).filter(Boolean);
if (skipped.length) console.log(`leaving out ${skipped.length} test files (ENTITY_SYNC_TEST_SKIP_FILES)`);
const runDeadline = Number(process.env.ENTITY_SYNC_TEST_RUN_DEADLINE_MS ?? 30 * 60_000);
const child = spawn(process.execPath, [
  '--import', '@swc-node/register/esm-register',
  '--import', join(root, 'scripts/test-harness/register.mjs'),
  join(root, 'node_modules/uvu/bin.js'), '.', pattern, '-i', 'dist', '-i', 'fixtures', '-i', '\\.tmp', '-i', '^bench',
  ...skipped.flatMap((file) => ['-i', `^${escape(file)}$`]),
], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json') } });

const FAILURES_HEADING = '---- failures, repeated from above ----';
const FAILURES_END = '---- end of failures ----';
// each of uvu's `FAIL  suite  "test"` blocks: its message and the first lines of its details and stack
function failureBlocks(plain) {
  const blocks = [];
  let block;
  for (const line of plain.split('\n')) {
    if (/^\s+FAIL\s/.test(line)) { block = [line]; blocks.push(block); continue; }
    if (!block) continue;
    // a file's heading, a suite's line, or the totals end a block
    if (/^\S/.test(line) || /^\s+Total:/.test(line) || / \(\d+ \/ \d+\)$/.test(line)) { block = undefined; continue; }
    if (block.length < 30) block.push(line);
  }
  return blocks.map((lines) => lines.join('\n').trimEnd());
}

let output = '';
let killedAtDeadline = false;
const deadline = setTimeout(() => {
  killedAtDeadline = true;
  console.error(`\nthe test run passed its deadline of ${runDeadline / 1000} s and was killed`);
  child.kill('SIGKILL');
}, runDeadline);
// uvu's summary ends with its duration; a process still running well after it is held open by
// something a test left behind (a pool, a socket, a timer): it is killed and the run fails.
// (the harness itself exits ENTITY_SYNC_TEST_EXIT_GRACE_MS after its summary, naming what is open; this is the backstop)
const exitGraceMs = 2 * Number(process.env.ENTITY_SYNC_TEST_EXIT_GRACE_MS ?? 15_000) + 15_000;
let heldOpen = false;
let graceTimer;
child.stdout.on('data', (chunk) => {
  output += chunk;
  process.stdout.write(chunk);
  if (!graceTimer && /Duration:\s/.test(output.replace(/\x1b\[[0-9;]*m/g, ''))) {
    graceTimer = setTimeout(() => {
      heldOpen = true;
      console.error(`\nthe test process did not exit within ${exitGraceMs / 1000} s of its last test: something a test opened ` +
        '(a connection pool, a socket, a timer) is still open. It was killed; the run fails.');
      child.kill('SIGKILL');
    }, exitGraceMs);
  }
});
child.on('close', (code, signal) => {
  clearTimeout(deadline);
  clearTimeout(graceTimer);
  // uvu prints "Total: N", "Passed: N", "Skipped: N" (with colour codes) at the end.
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const count = (label) => Number(plain.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0);
  const total = count('Total');
  const passed = count('Passed');
  const skipped = count('Skipped');
  let failed = total - passed - skipped;
  // a process held open after its last test counts as one failure more
  if (heldOpen) failed += 1;
  else if ((code !== 0 || signal || killedAtDeadline) && failed === 0) failed = 1;
  // alone on its line, also when a killed run stopped in the middle of one
  if (!output.endsWith('\n')) process.stdout.write('\n');
  // uvu prints a failure where it happened; repeated here, next to the summary, so that the end of a long log shows it
  const failures = failureBlocks(plain);
  if (failures.length) console.log(`${FAILURES_HEADING}\n${failures.join('\n')}\n${FAILURES_END}`);
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed > 0 ? 1 : code ?? 1);
});
