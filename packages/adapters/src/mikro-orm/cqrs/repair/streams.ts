import { CqrsError, type CqrsStreamKind } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { inTransaction } from '../../extension/compat.js';

// The line streams of the repair tools: NDJSON, one string per line without its newline, a
// header line first and an end line last, so that a stream cut short is refused.

export const DUMP_FORMAT = 'entity-sync-cqrs-dump';
export const DIFF_FORMAT = 'entity-sync-cqrs-diff';
export const DEFAULT_BATCH = 500;

// The versions each format's readers understand; writers write the last one unless told otherwise.
// Diff version 1 lists keys and revisions; version 2 adds each row's published state, and the
// report of a version 2 diff may hold `changed` rows.
const VERSIONS: Record<string, readonly number[]> = { [DUMP_FORMAT]: [1], [DIFF_FORMAT]: [1, 2] };
export const CONTENT_VERSION = 2;

/** A JSON object (not an array, not null). */
export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads non-blank lines and counts them, so that errors can name the line. */
export class LineReader {
  line = 0;
  private readonly iterator: AsyncIterator<string>;

  constructor(lines: AsyncIterable<string>, private readonly kind: CqrsStreamKind) {
    this.iterator = lines[Symbol.asyncIterator]();
  }

  /** The next non-blank line, or undefined at the end of the input. */
  async next(): Promise<string | undefined> {
    for (;;) {
      const result = await this.iterator.next();
      if (result.done) return undefined;
      this.line += 1;
      const text = String(result.value).trim();
      if (text !== '') return text;
    }
  }

  /** The next line parsed as a JSON object; CQRS_DUMP_INVALID when there is none or it is not one. */
  async object(expected: string): Promise<{ text: string; value: Record<string, unknown> }> {
    const text = await this.next();
    if (text === undefined) throw CqrsError.streamInvalid(this.kind, `it ends before ${expected}`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      const hint = text.includes('\n') ? ' (each item of the input must be one line: split the file with readline)' : '';
      throw CqrsError.streamInvalid(this.kind, `the line is not JSON${hint}`, this.line, error);
    }
    if (!isRecord(value)) throw CqrsError.streamInvalid(this.kind, `expected ${expected}, found ${text.slice(0, 80)}`, this.line);
    return { text, value };
  }

  /** Fails unless the input has nothing more after the end line. */
  async finish(): Promise<void> {
    if (await this.next() !== undefined) throw CqrsError.streamInvalid(this.kind, 'there are lines after the end line', this.line);
  }
}

export interface StreamHeader {
  text: string;
  cqrsId: string;
  version: number;
}

export function streamHeader(format: string, cqrsId: string, version = VERSIONS[format]!.at(-1)!): string {
  return JSON.stringify({ format, version, cqrsId, createdAt: new Date().toISOString() });
}

export async function readHeader(reader: LineReader, kind: CqrsStreamKind, format: string): Promise<StreamHeader> {
  const { text, value } = await reader.object('the header line');
  if (value.format !== format) {
    throw CqrsError.streamInvalid(kind, `the header names format ${JSON.stringify(value.format)}, expected ${JSON.stringify(format)}`, reader.line);
  }
  const versions = VERSIONS[format]!;
  if (!versions.includes(value.version as number)) {
    throw CqrsError.streamInvalid(kind, `format version ${JSON.stringify(value.version)} is not understood (this release reads ${versions.join(' and ')}); ` +
      'run every step with the same entity-sync release, or upgrade the one that refuses', reader.line);
  }
  if (typeof value.cqrsId !== 'string' || value.cqrsId === '') throw CqrsError.streamInvalid(kind, 'the header has no cqrsId', reader.line);
  return { text, cqrsId: value.cqrsId, version: value.version as number };
}

export function checkKey(kind: CqrsStreamKind, key: unknown, length: number, line: number): unknown[] {
  if (!Array.isArray(key) || key.length !== length || key.some((part) => part === null || typeof part === 'object')) {
    throw CqrsError.streamInvalid(kind, `key ${JSON.stringify(key)} is not ${length} primary-key value${length > 1 ? 's' : ''}`, line);
  }
  return key;
}

export const isRevision = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

const HIGH_WATER = 1000;

/**
 * Runs `work` in one transaction and hands the lines it emits to the consumer as they come,
 * holding the producer back while the consumer is behind: the stream reads one snapshot and
 * never holds a whole table in memory. Leaving the loop early rolls the transaction back.
 */
export function linesFromTransaction(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: (line: string) => Promise<void>) => Promise<void>): AsyncIterable<string> {
  return {
    async *[Symbol.asyncIterator]() {
      const buffered: string[] = [];
      const cancelled = new Error('the consumer stopped reading');
      let stopped = false;
      let finished = false;
      let failure: { error: unknown } | undefined;
      let wakeConsumer: (() => void) | undefined;
      let wakeProducer: (() => void) | undefined;
      const emit = async (line: string) => {
        if (stopped) throw cancelled;
        buffered.push(line);
        wakeConsumer?.();
        if (buffered.length >= HIGH_WATER) await new Promise<void>((resolve) => { wakeProducer = resolve; });
        if (stopped) throw cancelled;
      };
      const running = inTransaction(em, (tx) => work(tx, emit), isolation).then(
        () => { finished = true; },
        (error: unknown) => { failure = { error }; finished = true; },
      ).finally(() => wakeConsumer?.());
      try {
        for (;;) {
          if (buffered.length > 0) {
            const batch = buffered.splice(0);
            wakeProducer?.();
            wakeProducer = undefined;
            yield* batch;
          } else if (finished) {
            if (failure) throw failure.error;
            return;
          } else {
            await new Promise<void>((resolve) => { wakeConsumer = resolve; });
            wakeConsumer = undefined;
          }
        }
      } finally {
        if (!finished) {
          stopped = true;
          wakeProducer?.();
          await running;
        }
      }
    },
  };
}
