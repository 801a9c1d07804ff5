import { existsSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { finished, type Readable, type Writable } from 'node:stream';
import { FileError, type TextSink } from '@entity-sync/core';

/** A sink into a stream or a file; a file is written beside its path and renamed into place on commit. */
export interface OpenSink {
  sink: TextSink;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

function streamSink(stream: Writable, failed: () => Error | undefined = () => undefined): TextSink {
  return async (chunk) => {
    const failure = failed();
    if (failure) throw failure;
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
}

/** Resolves once `stream` is closed or finished, whether or not it failed. */
export function settled(stream: Readable | Writable): Promise<void> {
  // only the moment matters here: the caller reports its own error, not the stream's
  return new Promise((resolve) => finished(stream, () => resolve()));
}

/**
 * Opens a sink on a file path (written atomically) or on a writable stream (left open).
 * The file is opened here, so that a path that cannot be written fails with `FILE_NOT_WRITABLE`
 * before the caller runs a single query.
 */
export async function openSink(target: string | Writable): Promise<OpenSink> {
  if (typeof target !== 'string') {
    return { sink: streamSink(target), commit: async () => {}, abort: async () => {} };
  }
  const partial = `${target}.partial`;
  const notWritable = (cause: unknown) => FileError.notWritable(target, cause, dirname(target));
  // the rename onto a directory would fail only at commit, after every query has run
  if (existsSync(target) && statSync(target).isDirectory()) {
    throw notWritable(Object.assign(new Error(`${target} is a directory`), { code: 'EISDIR' }));
  }
  const handle = await open(partial, 'w').catch((error: unknown) => Promise.reject(notWritable(error)));
  const stream = handle.createWriteStream();
  let failure: Error | undefined;
  stream.on('error', (error) => {
    failure ??= notWritable(error);
  });
  return {
    sink: streamSink(stream, () => failure),
    async commit() {
      stream.end();
      await settled(stream);
      if (failure) throw failure;
      await rename(partial, target).catch((error: unknown) => Promise.reject(notWritable(error)));
    },
    async abort() {
      stream.destroy();
      await settled(stream);
      await rm(partial, { force: true });
    },
  };
}
