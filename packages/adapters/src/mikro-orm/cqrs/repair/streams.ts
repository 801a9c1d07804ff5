import { CqrsError, NonBlankLines, type CqrsStreamKind } from '@entity-sync/core';

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
  private readonly input: NonBlankLines;

  constructor(lines: AsyncIterable<string>, private readonly kind: CqrsStreamKind) {
    this.input = new NonBlankLines(lines);
  }

  /** The 1-based number of the last line read. */
  get line(): number {
    return this.input.line;
  }

  /** The next non-blank line, or undefined at the end of the input. */
  next(): Promise<string | undefined> {
    return this.input.next();
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

export { linesFromTransaction } from '../../../internal/pg/transaction-lines.js';
