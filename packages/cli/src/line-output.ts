import { existsSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { FileError } from '@entity-sync/core';

/** Where a command's lines go: written in chunks, then committed (a file renamed into place) or aborted (the partial file removed). */
interface LineOutput {
  write(text: string): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

function streamOutput(stream: Writable): LineOutput {
  return {
    async write(text) {
      if (!stream.write(text)) await once(stream, 'drain');
    },
    commit: async () => {},
    abort: async () => {},
  };
}

// Opened here, before the first line is asked for, so that a path that cannot be written fails
// with FILE_NOT_WRITABLE before the command runs a single query.
async function fileOutput(path: string): Promise<LineOutput> {
  const partial = `${path}.partial`;
  const notWritable = (cause: unknown) => FileError.notWritable(path, cause, dirname(path));
  // the rename onto a directory would fail only at the end, after every query has run
  if (existsSync(path) && statSync(path).isDirectory()) {
    throw notWritable(Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' }));
  }
  const handle = await open(partial, 'w').catch((error: unknown) => Promise.reject(notWritable(error)));
  return {
    async write(text) {
      await handle.write(text).catch((error: unknown) => Promise.reject(notWritable(error)));
    },
    async commit() {
      await handle.close().catch((error: unknown) => Promise.reject(notWritable(error)));
      await rename(partial, path).catch((error: unknown) => Promise.reject(notWritable(error)));
    },
    async abort() {
      // the error that made the command stop is the one reported; closing only has to happen
      await handle.close().catch(() => undefined);
      await rm(partial, { force: true });
    },
  };
}

/**
 * Writes lines to a file (relative to `cwd`; written beside it and renamed into place once
 * complete) or, for none or `-`, to standard output. Resolves to how many lines it wrote.
 */
export async function writeLines(cwd: string, file: string | undefined, lines: AsyncIterable<string>, stdout: Writable = process.stdout): Promise<number> {
  const output = file && file !== '-' ? await fileOutput(isAbsolute(file) ? file : resolve(cwd, file)) : streamOutput(stdout);
  let count = 0;
  try {
    let buffer = '';
    for await (const line of lines) {
      buffer += `${line}\n`;
      count += 1;
      if (buffer.length >= 64 * 1024) {
        await output.write(buffer);
        buffer = '';
      }
    }
    if (buffer) await output.write(buffer);
    await output.commit();
  } catch (error) {
    await output.abort();
    throw error;
  }
  return count;
}
