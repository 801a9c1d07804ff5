import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FileError } from '@entity-sync/core';
import { settled } from '../../../internal/files/text-sink.js';

/**
 * Lines kept in a file of their own in a new temporary directory: written once, then read back
 * page by page, so that a stream of any length is worked through in bounded memory and without
 * holding a database session between pages. `remove()` deletes the directory.
 */
export class LineSpool {
  private failure?: Error;

  private constructor(private readonly dir: string, private readonly file: string, private readonly out: WriteStream) {
    out.on('error', (error) => {
      this.failure ??= FileError.notWritable(file, error, dir);
    });
  }

  /** A new spool in a directory created under `parent` (default: the system's temporary directory); FILE_NOT_WRITABLE when it cannot be. */
  static async create(parent = tmpdir()): Promise<LineSpool> {
    const dir = await mkdtemp(join(parent, 'entity-sync-')).catch((error: unknown) => Promise.reject(FileError.notWritable(join(parent, 'entity-sync-*'), error, parent)));
    const file = join(dir, 'lines.ndjson');
    return new LineSpool(dir, file, createWriteStream(file));
  }

  /** Appends one JSON line. */
  async write(line: string): Promise<void> {
    this.check();
    // a JSON text has line breaks only between its tokens, where a space means the same
    const text = `${line.replace(/[\r\n]/g, ' ')}\n`;
    // once() rejects on 'error', which the constructor's listener has recorded for check()
    if (!this.out.write(text)) await once(this.out, 'drain').catch(() => undefined);
    this.check();
  }

  /** Ends writing; the lines are then read with `pages`. */
  async finish(): Promise<void> {
    this.out.end();
    await settled(this.out);
    this.check();
  }

  /** The lines in the order written, `size` at a time. */
  async *pages(size: number): AsyncIterable<string[]> {
    const input = createReadStream(this.file, { encoding: 'utf8' });
    // readline pauses the file while its consumer is busy, so no more than a page or so is read ahead
    const lines = createInterface({ input, crlfDelay: Infinity });
    let page: string[] = [];
    try {
      for await (const line of lines) {
        page.push(line);
        if (page.length >= size) {
          yield page;
          page = [];
        }
      }
      if (page.length) yield page;
    } finally {
      lines.close();
      input.destroy();
      await settled(input);
    }
  }

  /** Deletes the file and its directory. */
  async remove(): Promise<void> {
    if (!this.out.closed) {
      this.out.destroy();
      await settled(this.out);
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }
}
