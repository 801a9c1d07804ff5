import { createReadStream, existsSync, statSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { finished, type Readable, type Writable } from 'node:stream';
import { FileError, parseJsonDocument, readNdjsonDocument, type DocumentSource, type TextSink } from '@entity-sync/core';

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

/**
 * Opens a document from a file path or a readable stream, JSON or NDJSON, told apart by its first line.
 * Its `close()` destroys the stream; when opening fails, the stream is closed before the error is thrown.
 */
export async function openDocument(source: string | Readable, batchSize = 5000): Promise<DocumentSource> {
  if (typeof source === 'string' && !existsSync(source)) throw FileError.notFound(source);
  const input = typeof source === 'string' ? createReadStream(source, { encoding: 'utf8' }) : source.setEncoding('utf8');
  const reader = createInterface({ input, crlfDelay: Infinity });
  const lines = reader[Symbol.asyncIterator]();
  const close = async () => {
    reader.close();
    input.destroy();
    await settled(input);
  };
  try {
    const document = await readDocument(lines, batchSize);
    return { header: document.header, sections: () => document.sections(), close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function readDocument(lines: AsyncIterator<string>, batchSize: number): Promise<DocumentSource> {
  const first = await lines.next();
  if (first.done) return parseJsonDocument('');
  let header: unknown;
  try {
    header = JSON.parse(first.value);
  } catch {
    header = undefined;
  }
  if (typeof header === 'object' && header !== null && (header as { encoding?: unknown }).encoding === 'ndjson') {
    const replay: AsyncIterator<string> = {
      next: (() => {
        let replayed = false;
        return () => {
          if (!replayed) {
            replayed = true;
            return Promise.resolve({ done: false, value: first.value });
          }
          return lines.next();
        };
      })(),
    };
    return readNdjsonDocument(replay, batchSize);
  }
  let text = first.value;
  for (let next = await lines.next(); !next.done; next = await lines.next()) text += `\n${next.value}`;
  return parseJsonDocument(text);
}
