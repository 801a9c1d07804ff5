// What `cqrs dump -o`, `diff-master` and `diff-replica` write: the whole stream or nothing, and a
// path that cannot be written refused before the first line (and so the first query) is asked for.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { writeLines } from '../src/line-output.js';

/** Lines that count how far they were read, and can fail after some. */
function lines(count: number, failAfter?: number): { lines: AsyncIterable<string>; read: () => number } {
  let read = 0;
  return {
    read: () => read,
    lines: (async function* () {
      for (let i = 0; i < count; i++) {
        if (i === failAfter) throw new Error('the database went away');
        read += 1;
        yield `{"n":${i}}`;
      }
    })(),
  };
}

const test = suite('writeLines');
let dir = '';
test.before.each(() => {
  dir = mkdtempSync(join(tmpdir(), 'entity-sync-lines-'));
});
test.after.each(() => rmSync(dir, { recursive: true, force: true }));

test('a file gets every line and no partial file is left beside it; the path is relative to cwd', async () => {
  const source = lines(20_000);
  assert.is(await writeLines(dir, 'out.ndjson', source.lines), 20_000);
  const text = readFileSync(join(dir, 'out.ndjson'), 'utf8');
  assert.is(text.split('\n').length, 20_001);
  assert.ok(text.startsWith('{"n":0}\n{"n":1}\n') && text.endsWith('{"n":19999}\n'));
  assert.equal(readdirSync(dir), ['out.ndjson']);
});

test('none or - writes to standard output', async () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  assert.is(await writeLines(dir, '-', lines(3).lines, out), 3);
  assert.is(text, '{"n":0}\n{"n":1}\n{"n":2}\n');
  assert.equal(readdirSync(dir), []);
});

test('a directory that does not exist, or a path that is a directory: FILE_NOT_WRITABLE before any line is read', async () => {
  for (const [file, reason] of [[join(dir, 'missing', 'out.ndjson'), /the directory .*missing does not exist/], [dir, /it is a directory/]] as const) {
    const source = lines(5);
    const error = await writeLines(dir, file, source.lines).then(() => undefined, (failure: { code?: string; message: string }) => failure);
    assert.is(error?.code, 'FILE_NOT_WRITABLE', error?.message);
    assert.match(error!.message, reason);
    assert.is(source.read(), 0, 'lines were read before the path was checked');
  }
});

test('a stream that fails part way leaves neither the file nor a partial one', async () => {
  mkdirSync(join(dir, 'sub'));
  const source = lines(50_000, 30_000);
  const error = await writeLines(dir, 'sub/out.ndjson', source.lines).then(() => undefined, (failure: Error) => failure);
  assert.is(error?.message, 'the database went away');
  assert.ok(source.read() === 30_000);
  assert.not.ok(existsSync(join(dir, 'sub', 'out.ndjson')));
  assert.equal(readdirSync(join(dir, 'sub')), []);
});

test.run();
