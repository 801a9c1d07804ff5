import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { DiffError } from '../errors/diff-error.js';
import type { KeySpec } from './diff-key.js';
import type { DiffSource } from './diff-source.js';

/** Where a file source reads from: a file path, or the bytes (or texts) of one, made afresh for each read. */
export type FileInput = string | (() => AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>);

const chunksOf = (input: FileInput, signal?: AbortSignal): AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array> =>
  typeof input === 'string' ? createReadStream(input, signal ? { signal } : {}) : input();

/** Options of `fromNdjson`. */
export interface NdjsonSourceOptions<R> {
  /** The records come in ascending order of this key. */
  sortedBy?: KeySpec<R>;
  /** Turns each parsed line into a record (rename fields, parse dates). */
  map?: (line: Record<string, unknown>) => R;
}

/**
 * A source of NDJSON (one JSON object a line, blank lines skipped), streamed: a line that is not
 * a JSON object is `DIFF_SOURCE_INVALID` naming its line number.
 *
 * @example
 * ```ts
 * const students = fromNdjson('students.ndjson', './students.ndjson', { sortedBy: 'studentNo' });
 * ```
 */
export function fromNdjson<R = Record<string, unknown>>(name: string, input: FileInput, options: NdjsonSourceOptions<R> = {}): DiffSource<R> {
  return {
    name,
    ...(options.sortedBy !== undefined ? { sortedBy: options.sortedBy } : {}),
    async *records(signal) {
      const decoder = new TextDecoder();
      let rest = '';
      let line = 0;
      const record = (text: string): R | undefined => {
        line++;
        if (!text.trim()) return undefined;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          throw DiffError.sourceInvalid(name, line, (error as Error).message);
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw DiffError.sourceInvalid(name, line, 'the line is not a JSON object');
        return options.map ? options.map(value as Record<string, unknown>) : value as R;
      };
      for await (const chunk of chunksOf(input, signal)) {
        rest += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
        const lines = rest.split('\n');
        rest = lines.pop()!;
        for (const text of lines) {
          const parsed = record(text);
          if (parsed !== undefined) yield parsed;
        }
      }
      const last = record(rest + decoder.decode());
      if (last !== undefined) yield last;
    },
  };
}

/** Options of `fromCsv`. */
export interface CsvSourceOptions<R> {
  /** Header name -> field name for the columns to keep (default every column under its header's name). */
  columns?: Record<string, string>;
  /** Per field, how its text becomes a value (`Number`, `(text) => text === '' ? null : text`); default the text. */
  parse?: Record<string, (text: string) => unknown>;
  /** Default `,`. */
  delimiter?: string;
  /** The records come in ascending order of this key (after `parse`). */
  sortedBy?: KeySpec<R>;
}

/**
 * A source of CSV with a header line, streamed through csv-parse: each row a record of the
 * columns kept (`columns`), each value parsed as `parse` says. A malformed row (a quote left open,
 * a row of another width) is `DIFF_SOURCE_INVALID` naming its line.
 *
 * @example
 * ```ts
 * const roster = fromCsv('roster.csv', './roster.csv', {
 *   columns: { 'Student No': 'studentNo', 'Homeroom': 'homeroom', 'Courses': 'courses' },
 *   parse: { studentNo: Number, courses: (text) => text.split(';').filter(Boolean) },
 * });
 * ```
 */
export function fromCsv<R = Record<string, unknown>>(name: string, input: FileInput, options: CsvSourceOptions<R> = {}): DiffSource<R> {
  const kept = options.columns ? Object.entries(options.columns) : undefined;
  const parsers = options.parse ?? {};
  return {
    name,
    ...(options.sortedBy !== undefined ? { sortedBy: options.sortedBy } : {}),
    async *records(signal) {
      const parser = parse({ columns: true, delimiter: options.delimiter ?? ',', bom: true, relax_column_count: false, skip_empty_lines: true });
      // the pipeline ends the file's read when the parser ends early (a consumer that stops, an error), and the other way round
      const piped = pipeline(Readable.from(chunksOf(input, signal)), parser).catch((error: unknown) => error);
      try {
        for await (const row of parser as AsyncIterable<Record<string, string>>) {
          const fields = kept ?? Object.keys(row).map((header) => [header, header] as [string, string]);
          const record: Record<string, unknown> = {};
          for (const [header, field] of fields) {
            if (!(header in row)) throw DiffError.sourceInvalid(name, parser.info.lines, `it has no column ${JSON.stringify(header)} (columns: ${Object.keys(row).join(', ')})`);
            const text = row[header]!;
            record[field] = parsers[field] ? parsers[field](text) : text;
          }
          yield record as R;
        }
      } catch (error) {
        if ((error as { code?: string }).code?.startsWith('CSV_')) throw DiffError.sourceInvalid(name, parser.info.lines, (error as Error).message);
        throw error;
      } finally {
        parser.destroy();
        await piped;
      }
    },
  };
}
