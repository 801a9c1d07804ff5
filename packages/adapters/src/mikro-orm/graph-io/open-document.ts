import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { FileError, parseJsonDocument, readNdjsonDocument, type DocumentSource } from '@entity-sync/core';
import { settled } from '../../internal/files/text-sink.js';

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
