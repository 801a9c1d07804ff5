// Run only by tests/harness/timeouts.test.ts, through the project's runner: two suites with a test of 2 s, one with a
// deadline of its own (5 s) that it passes within, one with the runner's, which the test sets shorter.
import { suite } from 'uvu';

const twoSeconds = () => new Promise<void>((resolve) => setTimeout(resolve, 2000));

const long = suite('own deadline case', { timeoutMs: 5000 });
long('takes 2 s', twoSeconds);
long.run();

const plain = suite('default deadline case');
plain('takes 2 s', twoSeconds);
plain.run();
