import { NonBlankLines, type LineInput } from '../document/non-blank-lines.js';
import { EnvSyncError } from '../errors/env-sync-error.js';

/**
 * The line format of an environment-sync export: NDJSON, one JSON object a line, in this order:
 *
 * 1. the header, `{ format: 'entity-sync-env', version: 1, models: [SyncStreamModel...], createdAt }`;
 * 2. the rows, model by model in the header's order (referenced models first):
 *    `{ m: 'Language', k: ['FR', 'fr'], v: ['fr', 'Français', ...], r: [['FR'], null] }`: `k` is the row's
 *    natural key (text of each key path), `v` holds the values of the
 *    model's `columns` as PostgreSQL text (null for NULL; a file column holds a `SyncFileRef`), `r`
 *    the natural key of the row each `references` entry points at (null when the key is NULL);
 * 3. the end line, `{ end: true, counts: { Country: 12, Language: 30 } }`.
 *
 * No surrogate id travels unless it is part of the natural key. A stream without its end line
 * was cut short and is refused.
 */
export const SYNC_STREAM_FORMAT = 'entity-sync-env';
/** The version this release writes and reads. */
export const SYNC_STREAM_VERSION = 1;

/** A column that travels, with its database type: the fingerprint the pull compares with its own. */
export interface SyncStreamColumn {
  name: string;
  /** `format_type` of the column in the source (`character varying(80)`, `numeric(10,2)`). */
  type: string;
  /** A `@SyncModel({ fileFields })` column: its values are `SyncFileRef`s. */
  file?: boolean;
}

/** A foreign key that travels as the natural key of the row it points at. */
export interface SyncStreamReference {
  /** The relation (`Language.country`). */
  name: string;
  /** The foreign-key columns in the source. */
  columns: string[];
  /** The model pointed at. */
  model: string;
}

/** One model of a stream: its natural key paths, its columns and its references. */
export interface SyncStreamModel {
  name: string;
  naturalKey: string[];
  columns: SyncStreamColumn[];
  references: SyncStreamReference[];
  /** Present when the client already holds exactly these rows (their digest matched): how many, and none of them is sent. */
  unchanged?: number;
}

/** The first line of a stream. */
export interface SyncStreamHeader {
  format: typeof SYNC_STREAM_FORMAT;
  version: number;
  models: SyncStreamModel[];
  createdAt: string;
}

/** A file field's value: the source's reference and the sha256 of the content. */
export interface SyncFileRef {
  ref: string;
  sha256: string;
  size: number;
}

/** One row line. */
export interface SyncStreamRow {
  m: string;
  k: (string | null)[];
  v: (string | SyncFileRef | null)[];
  r: ((string | null)[] | null)[];
}

/** The last line. */
export interface SyncStreamEnd {
  end: true;
  counts: Record<string, number>;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const isTextList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');
const isKey = (value: unknown, length: number): value is (string | null)[] =>
  Array.isArray(value) && value.length === length && value.every((item) => item === null || typeof item === 'string');

/** A file field's value, checked; undefined when `value` is not one. */
export function asSyncFileRef(value: unknown): SyncFileRef | undefined {
  return isRecord(value) && typeof value.ref === 'string' && typeof value.sha256 === 'string' && /^[0-9a-f]{64}$/.test(value.sha256) &&
    typeof value.size === 'number' ? { ref: value.ref, sha256: value.sha256, size: value.size } : undefined;
}

/**
 * Reads a stream line by line and checks its shape, so that what is wrong is named with its line:
 * `header()`, then `next()` until it returns the end line. Throws `ENV_SYNC_STREAM_INVALID`.
 */
export class SyncStreamReader {
  private readonly input: NonBlankLines;
  private models = new Map<string, SyncStreamModel>();
  private readonly counts = new Map<string, number>();
  private seen: string[] = [];

  constructor(lines: LineInput) {
    this.input = new NonBlankLines(lines);
  }

  /** The 1-based number of the last line read. */
  get line(): number {
    return this.input.line;
  }

  /** The header line, checked. */
  async header(): Promise<SyncStreamHeader> {
    const value = await this.object('the header line');
    if (value.format !== SYNC_STREAM_FORMAT) this.fail(`the header names format ${JSON.stringify(value.format)}, expected ${JSON.stringify(SYNC_STREAM_FORMAT)}`);
    if (value.version !== SYNC_STREAM_VERSION) {
      this.fail(`format version ${JSON.stringify(value.version)} is not understood (this release reads ${SYNC_STREAM_VERSION}); run the same entity-sync release on both sides`);
    }
    if (!Array.isArray(value.models)) this.fail('the header has no models');
    for (const model of value.models as unknown[]) {
      if (!isRecord(model) || typeof model.name !== 'string' || !isTextList(model.naturalKey) || !Array.isArray(model.columns) || !Array.isArray(model.references) ||
        !model.columns.every((c: unknown) => isRecord(c) && typeof c.name === 'string' && typeof c.type === 'string') ||
        !model.references.every((r: unknown) => isRecord(r) && typeof r.name === 'string' && typeof r.model === 'string' && isTextList(r.columns)) ||
        (model.unchanged !== undefined && !(Number.isInteger(model.unchanged) && (model.unchanged as number) >= 0))) {
        this.fail(`the header's model ${JSON.stringify(isRecord(model) ? model.name : model)} is not a model description`);
      }
      this.models.set(model.name as string, model as unknown as SyncStreamModel);
    }
    return value as unknown as SyncStreamHeader;
  }

  /** The next row, or the end line (after which the input must end). */
  async next(): Promise<SyncStreamRow | SyncStreamEnd> {
    // a line of the batch at hand is taken without waiting
    const value = this.parse(this.input.buffered() ?? await this.text(), 'a row or the end line');
    if (value.end === true) {
      const counts = isRecord(value.counts) ? value.counts : {};
      for (const [model, count] of this.counts) {
        if (counts[model] !== count) this.fail(`the end line counts ${JSON.stringify(counts[model])} ${model} rows, the stream has ${count}`);
      }
      if (await this.text() !== undefined) this.fail('there are lines after the end line');
      return { end: true, counts: Object.fromEntries(this.counts) };
    }
    const model = typeof value.m === 'string' ? this.models.get(value.m) : undefined;
    if (!model) this.fail(`the row names model ${JSON.stringify(value.m)}, which the header does not list`);
    if (model.unchanged !== undefined) this.fail(`the header says the rows of ${model.name} are unchanged, yet a row of it is sent`);
    if (this.seen.at(-1) !== model.name) {
      if (this.seen.includes(model.name)) this.fail(`the rows of ${model.name} are not together`);
      this.seen.push(model.name);
    }
    const v = value.v;
    const r = value.r;
    if (!Array.isArray(v) || v.length !== model.columns.length ||
      v.some((cell, i) => cell !== null && (model.columns[i]!.file ? !asSyncFileRef(cell) : typeof cell !== 'string'))) {
      this.fail(`the row of ${model.name} does not hold ${model.columns.length} column values`);
    }
    if (!isKey(value.k, model.naturalKey.length) || value.k.every((part) => part === null)) this.fail(`the row of ${model.name} has no natural key of ${model.naturalKey.length} values`);
    if (!Array.isArray(r) || r.length !== model.references.length || r.some((key) => key !== null && !isKey(key, (key as unknown[]).length))) {
      this.fail(`the row of ${model.name} does not hold ${model.references.length} references`);
    }
    this.counts.set(model.name, (this.counts.get(model.name) ?? 0) + 1);
    return value as unknown as SyncStreamRow;
  }

  private text(): Promise<string | undefined> {
    return this.input.next();
  }

  private async object(expected: string): Promise<Record<string, unknown>> {
    return this.parse(await this.text(), expected);
  }

  private parse(text: string | undefined, expected: string): Record<string, unknown> {
    if (text === undefined) this.fail(`it ends before ${expected}`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw EnvSyncError.streamInvalid('the line is not JSON', this.line, error);
    }
    if (!isRecord(value)) this.fail(`expected ${expected}, found ${text.slice(0, 80)}`);
    return value;
  }

  private fail(why: string): never {
    throw EnvSyncError.streamInvalid(why, this.line);
  }
}
