// Run by tests/harness/timeouts.test.ts: two passing tests, one of them slower, for the skip list and the timings.
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';

const test = suite('passing case');

test('passes at once', () => {});

test('passes after 300 ms', () => sleep(300));

test.run();
