import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { EntitySyncError, parseJsonDocument, readNdjsonDocument, type DocumentSource, type TextSink } from '@entity-sync/core';

/** A sink into a stream or a file; a file is written beside its path and renamed into place on commit. */
export interface OpenSink {
  sink: TextSink;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

function streamSink(stream: Writable): TextSink {
  return async (chunk) => {
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
}

/** Opens a sink on a file path (written atomically) or on a writable stream (left open). */
export function openSink(target: string | Writable): OpenSink {
  if (typeof target !== 'string') {
    return { sink: streamSink(target), commit: async () => {}, abort: async () => {} };
  }
  const partial = `${target}.partial`;
  const stream = createWriteStream(partial);
  const closed = once(stream, 'close');
  return {
    sink: streamSink(stream),
    async commit() {
      stream.end();
      await closed;
      await rename(partial, target);
    },
    async abort() {
      stream.destroy();
      await rm(partial, { force: true });
    },
  };
}

/** Opens a document from a file path or a readable stream, JSON or NDJSON, told apart by its first line. */
export async function openDocument(source: string | Readable, batchSize = 5000): Promise<DocumentSource> {
  if (typeof source === 'string' && !existsSync(source)) {
    throw new EntitySyncError('FILE_NOT_FOUND', `No file at ${source}. Check the path of the export file.`, { info: { path: source } });
  }
  const input = typeof source === 'string' ? createReadStream(source, { encoding: 'utf8' }) : source.setEncoding('utf8');
  const lines = createInterface({ input, crlfDelay: Infinity })[Symbol.asyncIterator]();
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
