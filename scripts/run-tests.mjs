// Runs the test files in ENTITY_SYNC_TEST_PROCESSES uvu processes at once (default 2; each with
// its own PGlite instance and PostgreSQL cluster), and ends with the summary line CI reads:
// `N passed, N failed`. The files are spread over the processes by the seconds they took
// (scripts/test-harness/file-weights.json), longest first. The first process prints as it goes;
// the others' output follows when it is done, each whole, so that no two files' lines mix.
// Every test and hook has a deadline (scripts/test-harness, ENTITY_SYNC_TEST_TIMEOUT_MS), and so
// has the whole run (ENTITY_SYNC_TEST_RUN_DEADLINE_MS, default 30 minutes): past it the run is
// killed and fails.
// ENTITY_SYNC_TEST_SKIP_FILES: test files (paths from the root, separated by commas) left out of
// this run, as the MikroORM 7 lane leaves out the files that do not touch MikroORM.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { parse } from 'uvu/parse';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pattern = process.argv[2] ?? '(^|/)test/.*\\.test\\.ts$|^tests/.*\\.test\\.ts$';
const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const skipped = new Set((process.env.ENTITY_SYNC_TEST_SKIP_FILES ?? '').split(',').map((file) => file.trim()).filter(Boolean));
if (skipped.size) console.log(`leaving out ${skipped.size} test files (ENTITY_SYNC_TEST_SKIP_FILES)`);
const runDeadline = Number(process.env.ENTITY_SYNC_TEST_RUN_DEADLINE_MS ?? 30 * 60_000);
const processes = Math.max(1, Number(process.env.ENTITY_SYNC_TEST_PROCESSES ?? 2));
const IGNORE = ['dist', 'fixtures', '\\.tmp', '^bench'];

// the files uvu would run for this pattern, spread over the processes: the longest file goes to the least loaded
const { suites } = await parse(root, pattern, { ignore: IGNORE });
const files = suites.map((entry) => entry.name).filter((name) => !skipped.has(name));
const { seconds } = JSON.parse(readFileSync(join(root, 'scripts/test-harness/file-weights.json'), 'utf8'));
const weight = (file) => seconds[file] ?? 2;
const groups = Array.from({ length: Math.min(processes, files.length) }, () => ({ files: [], load: 0 }));
for (const file of [...files].sort((a, b) => weight(b) - weight(a))) {
  const group = groups.reduce((least, next) => (next.load < least.load ? next : least));
  group.files.push(file);
  group.load += weight(file);
}

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

// uvu's summary ends with its duration; a process still running well after it is held open by
// something a test left behind (a pool, a socket, a timer): it is killed and the run fails.
// (the harness itself exits ENTITY_SYNC_TEST_EXIT_GRACE_MS after its summary, naming what is open; this is the backstop,
// with room for the exit's own clean-up: the clusters and brokers a process started are stopped synchronously, which on
// a loaded machine took a MikroORM 7 process past a 45 s backstop)
const exitGraceMs = 2 * Number(process.env.ENTITY_SYNC_TEST_EXIT_GRACE_MS ?? 15_000) + 90_000;
const children = new Set();
let killedAtDeadline = false;
const deadline = setTimeout(() => {
  killedAtDeadline = true;
  console.error(`\nthe test run passed its deadline of ${runDeadline / 1000} s and was killed`);
  for (const child of children) child.kill('SIGKILL');
}, runDeadline);

// ENTITY_SYNC_TEST_TIMINGS: each process writes its own part, merged into that file at the end
const timingsFile = process.env.ENTITY_SYNC_TEST_TIMINGS;
const timingsPart = (index) => `${timingsFile}.${index + 1}`;

/** Runs uvu over `names` in one process; `live` prints its output as it comes, else it is kept for later. */
function runProcess(names, index) {
  const live = index === 0;
  const child = spawn(process.execPath, [
    '--import', '@swc-node/register/esm-register',
    '--import', join(root, 'scripts/test-harness/register.mjs'),
    join(root, 'node_modules/uvu/bin.js'), '.', `^(${names.map(escape).join('|')})$`, ...IGNORE.flatMap((ignore) => ['-i', ignore]),
  ], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: {
    ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json'),
    ...(timingsFile ? { ENTITY_SYNC_TEST_TIMINGS: timingsPart(index) } : {}),
  } });
  children.add(child);
  const result = { output: '', errors: '', heldOpen: false, code: null, signal: null };
  let graceTimer;
  child.stderr.on('data', (chunk) => {
    if (live) process.stderr.write(chunk);
    else result.errors += chunk;
  });
  child.stdout.on('data', (chunk) => {
    result.output += chunk;
    if (live) process.stdout.write(chunk);
    if (!graceTimer && /Duration:\s/.test(result.output.replace(/\x1b\[[0-9;]*m/g, ''))) {
      graceTimer = setTimeout(() => {
        result.heldOpen = true;
        const message = `\nthe test process did not exit within ${exitGraceMs / 1000} s of its last test: something a test opened ` +
          '(a connection pool, a socket, a timer) is still open. It was killed; the run fails.\n';
        if (live) process.stderr.write(message);
        else result.errors += message;
        child.kill('SIGKILL');
      }, exitGraceMs);
    }
  });
  return new Promise((resolve) => child.on('close', (code, signal) => {
    clearTimeout(graceTimer);
    children.delete(child);
    Object.assign(result, { code, signal });
    resolve(result);
  }));
}

if (groups.length > 1) console.log(`${files.length} test files in ${groups.length} processes (ENTITY_SYNC_TEST_PROCESSES)`);
const results = await Promise.all(groups.map((group, index) => runProcess(group.files, index)));
clearTimeout(deadline);
if (timingsFile) {
  const rows = groups.flatMap((_, index) => {
    try {
      return readFileSync(timingsPart(index), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    } finally {
      rmSync(timingsPart(index), { force: true });
    }
  });
  writeFileSync(timingsFile, rows.sort((a, b) => parseFloat(b) - parseFloat(a)).join('\n') + '\n');
}

let passed = 0;
let failed = 0;
let skippedTests = 0;
const failures = [];
for (const [index, result] of results.entries()) {
  if (index > 0) {
    process.stdout.write(`\n---- test process ${index + 1} of ${results.length} ----\n${result.output}`);
    if (result.errors) process.stderr.write(result.errors);
  }
  // uvu prints "Total: N", "Passed: N", "Skipped: N" (with colour codes) at the end.
  const plain = result.output.replace(/\x1b\[[0-9;]*m/g, '');
  const count = (label) => Number(plain.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0);
  const total = count('Total');
  let processFailed = total - count('Passed') - count('Skipped');
  // a process held open after its last test counts as one failure more
  if (result.heldOpen) processFailed += 1;
  else if ((result.code !== 0 || result.signal || killedAtDeadline) && processFailed === 0) processFailed = 1;
  passed += count('Passed');
  skippedTests += count('Skipped');
  failed += processFailed;
  failures.push(...failureBlocks(plain));
}
if (!files.length) failed += 1;
// alone on its line, also when a killed run stopped in the middle of one
process.stdout.write('\n');
// uvu prints a failure where it happened; repeated here, next to the summary, so that the end of a long log shows it
if (failures.length) console.log(`${FAILURES_HEADING}\n${failures.join('\n')}\n${FAILURES_END}`);
if (!files.length) console.log(`no test file matches ${pattern}`);
console.log(`${passed} passed, ${failed} failed${skippedTests ? `, ${skippedTests} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
