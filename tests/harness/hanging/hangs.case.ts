// Run only by tests/harness/timeouts.test.ts, through the project's runner: one test finishes, one never does.
import { suite } from 'uvu';

const test = suite('harness case');

test('finishes', () => {});

test('never finishes', () => new Promise<void>(() => {}));

test.run();
