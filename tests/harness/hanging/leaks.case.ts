// Run by tests/harness/timeouts.test.ts: a passing test that leaves a server listening and a timer pending.
import { createServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('leaking case');

test('passes and leaves a server and a timer open', async () => {
  await new Promise<void>((resolve) => createServer().listen(0, '127.0.0.1', resolve));
  setTimeout(() => undefined, 600_000);
  assert.ok(true);
});

test.run();
