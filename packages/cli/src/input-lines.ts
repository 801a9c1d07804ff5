import { createReadStream, existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { FileError } from '@entity-sync/core';

/**
 * The lines of a readable stream, collected from the moment this is called. readline emits lines
 * whether or not anyone listens; an iterator attached later (after a database round trip, say)
 * would miss them, and their end, and wait forever.
 */
export function linesOf(input: Readable): AsyncIterable<string> {
  const iterator = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
  return { [Symbol.asyncIterator]: () => iterator };
}

/** The lines of a file (relative to `cwd`), or of standard input for none or `-`. */
export function inputLines(cwd: string, file: string | undefined, stdin: Readable = process.stdin): AsyncIterable<string> {
  if (file && file !== '-') {
    const path = isAbsolute(file) ? file : resolve(cwd, file);
    if (!existsSync(path)) throw FileError.notFound(path);
    return linesOf(createReadStream(path, { encoding: 'utf8' }));
  }
  return linesOf(stdin);
}
