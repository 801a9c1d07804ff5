// The README's "Testing your own transport" example is the memory contract test file itself, so
// that the code a user copies is code that compiles and passes here.
import { readFileSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('README transport contract example');

test('the example under "Testing your own transport" is tests/transports/contract-memory.test.ts, comments aside', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Testing your own transport'));
  const example = section.match(/```ts\n([\s\S]*?)```/)?.[1];
  assert.ok(example, 'no ts code block under "Testing your own transport"');
  const file = readFileSync(new URL('./contract-memory.test.ts', import.meta.url), 'utf8');
  assert.fixture(file.replace(/^(\/\/.*\n)+/, ''), example);
});

test.run();
