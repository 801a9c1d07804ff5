// uvu's suite with a deadline on every test and hook: a test that hangs fails after
// ENTITY_SYNC_TEST_TIMEOUT_MS (default 180 s) with an error that names it, and the run goes on.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const uvu = await import(pathToFileURL(require.resolve('uvu').replace(/index\.js$/, 'index.mjs')).href);
const limit = Number(process.env.ENTITY_SYNC_TEST_TIMEOUT_MS ?? 180_000);

function timed(label, handler) {
  return async (...args) => {
    let timer;
    const deadline = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${limit / 1000} s: ${label}`)), limit);
    });
    try {
      return await Promise.race([handler(...args), deadline]);
    } catch (error) {
      // uvu drops errors thrown by hooks; the name of what failed must still reach the output
      if (!label.includes(' > ')) console.error(`${label} failed: ${error?.stack ?? error}`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };
}

function withDeadlines(test, suiteName) {
  const named = (name) => (suiteName ? `${suiteName} > ${name}` : name);
  const wrapped = (name, handler) => test(name, timed(named(name), handler));
  // every test runs in CI: a focused test would silently leave the others out
  wrapped.only = (name) => {
    throw new Error(`a focused test ("${named(name)}") is not allowed; every test runs in CI`);
  };
  wrapped.skip = test.skip;
  wrapped.run = test.run;
  wrapped.before = (handler) => test.before(timed(`${suiteName || 'suite'}: before`, handler));
  wrapped.before.each = (handler) => test.before.each(timed(`${suiteName || 'suite'}: before each`, handler));
  wrapped.after = (handler) => test.after(timed(`${suiteName || 'suite'}: after`, handler));
  wrapped.after.each = (handler) => test.after.each(timed(`${suiteName || 'suite'}: after each`, handler));
  return wrapped;
}

export const suite = (name = '', state) => withDeadlines(uvu.suite(name, state), name);
export const test = withDeadlines(uvu.test, '');
export const exec = uvu.exec;
