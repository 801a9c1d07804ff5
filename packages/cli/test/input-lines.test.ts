// A dump read from a file or a pipe keeps every line even when reading starts late (after BEGIN, say).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { inputLines } from '../src/input-lines.js';

async function collect(lines: AsyncIterable<string>, ms = 10_000): Promise<string[]> {
  const out: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`the lines did not end within ${ms} ms`)), ms); });
  try {
    await Promise.race([(async () => { for await (const line of lines) out.push(line); })(), deadline]);
    return out;
  } finally {
    clearTimeout(timer);
  }
}

const test = suite('CLI input lines');

test('a 2,000-line file whose reader starts 100 ms late yields every line and ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'entity-sync-lines-'));
  try {
    const file = join(dir, 'dump.ndjson');
    writeFileSync(file, Array.from({ length: 2000 }, (_, i) => JSON.stringify({ n: i })).join('\n') + '\n');
    const lines = inputLines(dir, 'dump.ndjson');
    await sleep(100);
    const read = await collect(lines);
    assert.is(read.length, 2000);
    assert.is(read[1999], '{"n":1999}');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pipe that ended before the reader started yields its lines and ends', async () => {
  const stdin = new PassThrough();
  const lines = inputLines('/', undefined, stdin);
  stdin.end('a\nb\nc\n');
  await sleep(100);
  assert.equal(await collect(lines), ['a', 'b', 'c']);
});

test.run();
