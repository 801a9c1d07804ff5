// uvu's suite with a deadline on every test and hook: a test that hangs fails after
// ENTITY_SYNC_TEST_TIMEOUT_MS (default 180 s) with an error that names it, and the run goes on. A suite whose tests
// are long by nature (an npm install of an outside app) says so in its context: `suite(name, { timeoutMs })`.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const uvu = await import(pathToFileURL(require.resolve('uvu').replace(/index\.js$/, 'index.mjs')).href);
const limit = Number(process.env.ENTITY_SYNC_TEST_TIMEOUT_MS ?? 180_000);

// ENTITY_SYNC_TEST_TIMINGS=<file>: the time spent in each suite (tests and hooks), written at exit, slowest first
const timingsFile = process.env.ENTITY_SYNC_TEST_TIMINGS;
const spent = new Map();
if (timingsFile) {
  const { writeFileSync } = await import('node:fs');
  process.on('exit', () => {
    const rows = [...spent].sort((a, b) => b[1] - a[1]).map(([name, ms]) => `${(ms / 1000).toFixed(1).padStart(7)} s  ${name}`);
    writeFileSync(timingsFile, rows.join('\n') + '\n');
  });
}

function timed(label, handler, suiteName = label, ms = limit) {
  return async (...args) => {
    const started = performance.now();
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s: ${label}`)), ms);
    });
    try {
      return await Promise.race([handler(...args), deadline]);
    } catch (error) {
      // uvu drops errors thrown by hooks; the name of what failed must still reach the output
      if (!label.includes(' > ')) console.error(`${label} failed: ${error?.stack ?? error}`);
      throw error;
    } finally {
      clearTimeout(timer);
      if (timingsFile) spent.set(suiteName, (spent.get(suiteName) ?? 0) + performance.now() - started);
    }
  };
}

function withDeadlines(test, suiteName, ms = limit) {
  const named = (name) => (suiteName ? `${suiteName} > ${name}` : name);
  const suiteLabel = suiteName || '(no suite)';
  const wrapped = (name, handler) => test(name, timed(named(name), handler, suiteLabel, ms));
  // every test runs in CI: a focused test would silently leave the others out
  wrapped.only = (name) => {
    throw new Error(`a focused test ("${named(name)}") is not allowed; every test runs in CI`);
  };
  wrapped.skip = test.skip;
  wrapped.run = test.run;
  wrapped.before = (handler) => test.before(timed(`${suiteName || 'suite'}: before`, handler, suiteLabel, ms));
  wrapped.before.each = (handler) => test.before.each(timed(`${suiteName || 'suite'}: before each`, handler, suiteLabel, ms));
  wrapped.after = (handler) => test.after(timed(`${suiteName || 'suite'}: after`, handler, suiteLabel, ms));
  wrapped.after.each = (handler) => test.after.each(timed(`${suiteName || 'suite'}: after each`, handler, suiteLabel, ms));
  return wrapped;
}

// a suite's own deadline, when its context names one (a positive number of milliseconds), in place of the default
const ownDeadline = (state) => (Number.isFinite(state?.timeoutMs) && state.timeoutMs > 0 ? state.timeoutMs : limit);
export const suite = (name = '', state) => withDeadlines(uvu.suite(name, state), name, ownDeadline(state));
export const test = withDeadlines(uvu.test, '');
export const exec = uvu.exec;
