import { createHash } from 'node:crypto';
import { ident, literal, type SqlSession } from '../../internal/pg/sql-session.js';
import { documentSql, type DocumentForm } from './documents.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { ServedModel } from './served-models.js';

// A client's first pull reads the served tables themselves, in key order, instead of the row
// versions: no version row to read and no row to find by key, and the documents are written in
// Node from COPY's text, so that PostgreSQL and Node work side by side. The values whose COPY
// text is their JSON (numbers, booleans, text) or is close to it (timestamps) are written from
// it; every other type goes through to_jsonb in the COPY, so each value is the one a document of
// the row versions carries (`documentSql`), as an object or, for `arrays`, an array of values.
// A value the fast path does not expect (NaN, an infinite or BC timestamp) sends a few rows from
// there the other way (documents built by PostgreSQL), and COPY reads on after them.

const enum Kind { Number, Boolean, Text, TimestampTz, Timestamp, Json }

const kindOf = (type: string): Kind => {
  if (/^(smallint|integer|bigint|real|double precision|numeric(\(\d+(,\d+)?\))?)$/.test(type)) return Kind.Number;
  if (type === 'boolean') return Kind.Boolean;
  if (/^(text|character varying(\(\d+\))?|character(\(\d+\))?|uuid|name|citext)$/.test(type)) return Kind.Text;
  if (/^timestamp(\(\d\))? with time zone$/.test(type)) return Kind.TimestampTz;
  if (/^timestamp(\(\d\))? without time zone$/.test(type)) return Kind.Timestamp;
  return Kind.Json;
};

/**
 * The rows of `tenant`, as the capture files them (`tenantText`: the column's text, '' for NULL),
 * written so that the planner sees the column itself: behind coalesce() it guesses a few rows and
 * sorts the whole table for every page.
 */
function tenantIs(column: CatalogColumn, tenant: string): string {
  const name = `t.${ident(column.name)}`;
  if (tenant === '') return `(${name} IS NULL OR ${name}::text = '')`;
  return /^(text|character varying(\(\d+\))?)$/.test(column.type) ? `${name} = ${literal(tenant)}` : `${name}::text = ${literal(tenant)}`;
}

const HEX = Buffer.from('0123456789abcdef');
const NULL = Buffer.from('null');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const ZONE = Buffer.from('+00:00');
const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const QUOTE = 34;
const COMMA = Buffer.from(',');
const EMPTY = Buffer.alloc(0);
// the most of a chunk the encoder writes at once (then up to the next newline)
const SLICE_BYTES = 256 * 1024;
const OBJECT = [123, 125] as const;
const ARRAY = [91, 93] as const;

/** How one served model's rows are read for a first pull: the COPY's columns (key first) and the document each line makes. */
export class ScanPlan {
  readonly select: string;
  private readonly names: Buffer[];
  private readonly kinds: Kind[];

  constructor(readonly model: ServedModel, readonly form: DocumentForm = 'objects') {
    this.kinds = model.fields.map((field) => kindOf(field.column.type));
    // what comes before each value: its name (objects), or only where it starts (arrays)
    this.names = model.fields.map((field, i) => Buffer.from(form === 'arrays' ? (i ? ',' : '[') : `${i ? ',' : '{'}${JSON.stringify(field.property)}:`));
    const values = model.fields.map((field, i) => (this.kinds[i] === Kind.Json ? `to_jsonb(t.${ident(field.column.name)})::text` : `t.${ident(field.column.name)}`));
    // the key's values are read from the document's own where it has them as the column's text; else the COPY has them first
    const inFields = model.key.map((column) => model.fields.findIndex((field) => field.column.name === column.name));
    const fromFields = inFields.every((i) => i !== -1 && this.kinds[i] !== Kind.Json);
    this.keyColumns = fromFields ? inFields : model.key.map((_, k) => k);
    this.keyPrefix = fromFields ? 0 : model.key.length;
    this.select = [...model.key.slice(0, this.keyPrefix).map((column) => `t.${ident(column.name)}`), ...values].join(', ');
  }

  /** Where in a COPY line the key's values are, and how many of its first values are the key alone. */
  private readonly keyColumns: number[];
  private readonly keyPrefix: number;

  /**
   * `FROM <table> t WHERE <tenant, condition, after the key> ORDER BY <key> LIMIT <limit>`: the
   * key values as parameters (`?`), or `inline` as literals (COPY takes no parameters).
   */
  rangeSql(tenant: string | undefined, condition: string, after: string[] | undefined, limit: number, inline = false): string {
    const key = this.model.key.map((column) => `t.${ident(column.name)}`);
    const where = [`(${condition})`];
    if (this.model.tenant) where.push(tenantIs(this.model.tenant.column, tenant ?? ''));
    if (after) where.push(`(${key.join(', ')}) > (${this.model.key.map((column, i) => `${inline ? literal(after[i]!) : '?'}::${column.type}`).join(', ')})`);
    return `FROM ${this.model.table.qualified} t WHERE ${where.join(' AND ')} ORDER BY ${key.join(', ')} LIMIT ${limit}`;
  }

  /** A writer of the documents of COPY lines of `select`, at most `max` of them (a line past them sets `more`), in runs of `runRows`. */
  encoder(max = Infinity, runRows = Infinity): DocumentEncoder {
    return new DocumentEncoder(this.keyPrefix, this.keyColumns, this.names, this.kinds, this.form === 'arrays' ? ARRAY : OBJECT, max, runRows);
  }
}

/** Documents written from COPY lines, comma-separated: how many, and the key values of the last one (COPY's text, unescaped). */
export interface DocumentRun {
  docs: Buffer;
  count: number;
  lastKey: string[];
}

/**
 * Writes documents (JSON, UTF-8) from COPY text lines fed in chunks of any size, in one pass over
 * each line's bytes. `write` returns false at a value it does not write: the documents of the
 * lines before it are kept (`take`), nothing after it is written. With `runRows`, every run of
 * that many documents is cut as soon as it is complete (`runs`), to go on while the rest is read.
 */
export class DocumentEncoder {
  /** The documents written, over every run. */
  count = 0;
  /** A line came past `max`: there are more rows than the documents written. */
  more = false;
  /** A value was not written (`write` returned false). */
  failed = false;
  /** The key values of the last line written, as COPY wrote them (unescaped). */
  lastKey: string[] = [];
  private out = Buffer.allocUnsafe(1 << 16);
  private at = 0;
  /** The documents in `out`. */
  private held = 0;
  private cut: DocumentRun[] = [];
  private rest: Uint8Array | undefined;
  /** The most a line's document takes beyond 6 bytes for each byte of its text: the names, the quotes of texts, the braces. */
  private readonly overhead: number;
  private readonly values: number;
  private readonly lastKeyColumn: number;

  /** `keys`: the values a line starts with that are the key's alone (skipped); `keyColumns`: the positions of the key's values in a line. */
  constructor(private readonly keys: number, private readonly keyColumns: number[], private readonly names: Buffer[], private readonly kinds: Kind[],
    private readonly brackets: readonly [open: number, close: number], private readonly max = Infinity, private readonly runRows = Infinity) {
    this.overhead = names.reduce((sum, name) => sum + name.length, 0) + 2 * kinds.length + 2;
    this.values = keys + kinds.length;
    this.lastKeyColumn = Math.max(...keyColumns);
  }

  /** Adds the lines of `chunk` (the part of a line it ends in waits for the next chunk). */
  write(chunk: Uint8Array): boolean {
    if (this.failed) return false;
    if (this.more) return true;
    let input = chunk;
    if (this.rest) {
      const first = chunk.indexOf(NEWLINE);
      if (first === -1) {
        this.rest = Buffer.concat([this.rest, chunk]);
        return true;
      }
      const line = Buffer.concat([this.rest, chunk.subarray(0, first + 1)]);
      this.rest = undefined;
      if (!this.lines(line, line.length)) return false;
      input = chunk.subarray(first + 1);
    }
    const end = input.lastIndexOf(NEWLINE) + 1;
    if (end < input.length) this.rest = Buffer.from(input.subarray(end));
    // a large chunk (PGlite's whole COPY) in slices of whole lines: the room a slice needs stays small
    for (let from = 0; from < end;) {
      const cut = from + SLICE_BYTES >= end ? end : input.indexOf(NEWLINE, from + SLICE_BYTES) + 1;
      if (!this.lines(from === 0 && cut === end ? input : input.subarray(from, cut), cut - from)) return false;
      from = cut;
    }
    return true;
  }

  /** Writes a last line that had no newline (COPY ends every line: a rest is one more line); false at a value it does not write. */
  end(): boolean {
    if (!this.rest?.length || this.failed || this.more) return !this.failed;
    const line = Buffer.concat([this.rest, Buffer.from([NEWLINE])]);
    this.rest = undefined;
    return this.lines(line, line.length);
  }

  /** The runs of `runRows` documents completed since the last call. */
  runs(): DocumentRun[] {
    const runs = this.cut;
    this.cut = [];
    return runs;
  }

  /** The documents written and not yet handed on (fewer than `runRows`), if any. */
  take(): DocumentRun | undefined {
    if (!this.held) return undefined;
    const run = { docs: this.handOver(this.at), count: this.held, lastKey: this.lastKey };
    if (!this.out.length) this.out = Buffer.allocUnsafe(1 << 16);
    this.at = 0;
    this.held = 0;
    return run;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.at + bytes));
    this.out.copy(grown, 0, 0, this.at);
    this.out = grown;
  }

  /**
   * The first `bytes` of the buffer, for a run: the buffer itself when they fill most of it (it is
   * then the run's, and `out` is left empty for a new one), a copy otherwise (a small run must not
   * hold a large buffer).
   */
  private handOver(bytes: number): Buffer {
    if (bytes * 4 < this.out.length) return Buffer.from(this.out.subarray(0, bytes));
    const docs = this.out.subarray(0, bytes);
    this.out = EMPTY;
    return docs;
  }

  /** The most the documents of `bytes` of COPY lines take: 6 bytes for a byte of text (a control character's \u00XX), and each line's names (a line has a byte per value at least). */
  private roomFor(bytes: number): number {
    return bytes * 6 + Math.ceil(bytes / this.values) * this.overhead + 16;
  }

  /** The key values of the line that starts at `from`. */
  private keyAt(input: Uint8Array, from: number): string[] {
    const texts: string[] = [];
    for (let value = 0; value <= this.lastKeyColumn; value++) {
      let stop = from;
      while (input[stop] !== TAB && input[stop] !== NEWLINE) stop++;
      texts.push(Buffer.from(input.buffer, input.byteOffset + from, stop - from).toString('utf8'));
      from = stop + 1;
    }
    return this.keyColumns.map((column) => unescapeCopy(texts[column]!));
  }

  /** Writes the documents of the whole lines in `input` up to `end` (just past a newline). */
  private lines(input: Uint8Array, end: number): boolean {
    const { names, kinds, keys } = this;
    const fields = kinds.length;
    this.room(this.roomFor(end));
    let out = this.out;
    let at = this.at;
    let pos = 0;
    let last = -1;
    let ok = true;
    lines: while (pos < end) {
      if (this.count === this.max) {
        this.more = true;
        break;
      }
      const start = pos;
      for (let k = 0; k < keys; k++) {
        while (input[pos] !== TAB) pos++;
        pos++;
      }
      let doc = at;
      if (this.held) out[doc++] = 44;
      for (let i = 0; i < fields; i++) {
        const name = names[i]!;
        for (let n = 0; n < name.length; n++) out[doc++] = name[n]!;
        let c = input[pos]!;
        // \N is NULL (a backslash of a value is written \\)
        if (c === BACKSLASH && input[pos + 1] === 78) {
          for (let n = 0; n < 4; n++) out[doc++] = NULL[n]!;
          pos += 3;
          continue;
        }
        switch (kinds[i]) {
          case Kind.Number:
            // digits, sign, point and exponent only: NaN and Infinity are not JSON numbers. A float's -0 is 0, as in to_jsonb
            if (c === 45 && input[pos + 1] === 48 && (input[pos + 2] === TAB || input[pos + 2] === NEWLINE)) {
              out[doc++] = 48;
              pos += 2;
              break;
            }
            for (; c !== TAB && c !== NEWLINE; c = input[++pos]!) {
              if (!((c >= 48 && c <= 57) || c === 45 || c === 46 || c === 101 || c === 69 || c === 43)) {
                ok = false;
                break lines;
              }
              out[doc++] = c;
            }
            break;
          case Kind.Boolean: {
            const word = c === 116 ? TRUE : FALSE;
            for (let n = 0; n < word.length; n++) out[doc++] = word[n]!;
            pos++;
            break;
          }
          case Kind.Text:
            out[doc++] = QUOTE;
            for (; c !== TAB && c !== NEWLINE; c = input[++pos]!) {
              if (c > QUOTE && c !== BACKSLASH) {
                out[doc++] = c;
                continue;
              }
              if (c === BACKSLASH) {
                const e = input[++pos];
                c = e === 110 ? 10 : e === 116 ? 9 : e === 114 ? 13 : e === 98 ? 8 : e === 102 ? 12 : e === 118 ? 11 : e === BACKSLASH ? BACKSLASH : -1;
                if (c < 0) {
                  ok = false;
                  break lines;
                }
              }
              if (c === QUOTE || c === BACKSLASH) {
                out[doc++] = BACKSLASH;
                out[doc++] = c;
              } else if (c < 32) {
                out[doc++] = BACKSLASH;
                out[doc++] = 117;
                out[doc++] = 48;
                out[doc++] = 48;
                out[doc++] = HEX[c >> 4]!;
                out[doc++] = HEX[c & 15]!;
              } else out[doc++] = c;
            }
            out[doc++] = QUOTE;
            break;
          case Kind.TimestampTz:
          case Kind.Timestamp: {
            // ISO, in UTC: 2024-01-01 00:00:05[.123456][+00] -> "2024-01-01T00:00:05[.123456][+00:00]"
            let stop = pos;
            while (input[stop] !== TAB && input[stop] !== NEWLINE) stop++;
            const zoned = kinds[i] === Kind.TimestampTz;
            const length = stop - pos - (zoned ? 3 : 0);
            if (length < 19 || length > 26 || input[pos + 4] !== 45 || input[pos + 10] !== 32 || input[pos + 13] !== 58 ||
              (zoned && (input[stop - 3] !== 43 || input[stop - 2] !== 48 || input[stop - 1] !== 48)) ||
              // a fraction of digits, nothing else (not " BC")
              (length > 19 && input[pos + 19] !== 46)) {
              ok = false;
              break lines;
            }
            for (let p = pos + 20; p < pos + length; p++) {
              if (input[p]! < 48 || input[p]! > 57) {
                ok = false;
                break lines;
              }
            }
            out[doc++] = QUOTE;
            for (let p = pos; p < pos + length; p++) out[doc++] = input[p]!;
            out[doc - length + 10] = 84;
            if (zoned) for (let n = 0; n < ZONE.length; n++) out[doc++] = ZONE[n]!;
            out[doc++] = QUOTE;
            pos = stop;
            break;
          }
          case Kind.Json:
            // to_jsonb's text, in which COPY escaped only backslashes (JSON text holds no raw tab or newline)
            for (; c !== TAB && c !== NEWLINE; c = input[++pos]!) {
              if (c === BACKSLASH && input[++pos] !== BACKSLASH) {
                ok = false;
                break lines;
              }
              out[doc++] = c;
            }
            break;
        }
        // past the tab, or the newline after the last value
        pos++;
      }
      if (!fields) out[doc++] = this.brackets[0];
      out[doc++] = this.brackets[1];
      at = doc;
      last = start;
      this.count++;
      if (++this.held === this.runRows) {
        this.lastKey = this.keyAt(input, start);
        this.cut.push({ docs: this.handOver(at), count: this.held, lastKey: this.lastKey });
        if (this.out !== out) out = this.out = Buffer.allocUnsafe(this.roomFor(end - pos));
        at = 0;
        this.held = 0;
        last = -1;
      }
    }
    this.at = at;
    if (last >= 0) this.lastKey = this.keyAt(input, last);
    if (!ok) this.failed = true;
    return ok;
  }
}

const COPY_ESCAPE = /\\(.)/g;
const ESCAPED: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v' };

/** A value of COPY's text format, unescaped. */
export const unescapeCopy = (text: string): string => (text.includes('\\') ? text.replace(COPY_ESCAPE, (_, c: string) => ESCAPED[c] ?? c) : text);

/** What a reading of a model's rows went through: how many rows, the key it stands after (none: no row read, no key to start after), and whether more rows follow. */
export interface ScanRead {
  count: number;
  lastKey?: string[];
  more: boolean;
}

/** One page of a model's rows read for a first pull: the documents, comma-separated, and what the reading went through. */
export interface ScannedPage extends ScanRead {
  docs: Buffer;
}

// the sessions (transactions) that read without sorting already
const unsorted = new WeakSet<SqlSession>();

// a value the encoder does not write sends this many rows, at most, to the documents PostgreSQL builds
const BUILT_ROWS = 500;

/**
 * Reads at most `limit` rows of `plan`'s model after the key `after` (text values), with `tenant`'s
 * rows only and `condition` (SQL on the row `t`) holding, in key order, and hands their documents
 * to `onRun` in runs of at most `runRows` as COPY brings them: written by the encoder, or, from a
 * value it does not write, built by PostgreSQL for a few rows, after which COPY reads on. One row
 * more is read, to tell whether more follow.
 */
export async function scanRows(session: SqlSession, plan: ScanPlan, tenant: string | undefined, condition: string, after: string[] | undefined,
  limit: number, onRun: (run: DocumentRun) => unknown, runRows = limit): Promise<ScanRead> {
  let count = 0;
  let lastKey = after;
  // in key order by the key's index, whatever the filters: a sort would read the whole table for every page
  if (!unsorted.has(session)) {
    await session.run('SET LOCAL enable_sort = off');
    unsorted.add(session);
  }
  while (count < limit) {
    const encoder = plan.encoder(limit - count, runRows);
    for await (const chunk of session.copyOutBytes(`COPY (SELECT ${plan.select} ${plan.rangeSql(tenant, condition, lastKey, limit - count + 1, true)}) TO STDOUT`)) {
      // past a value it does not write, the rest of the COPY is left (copyOutBytes reads it to its end)
      if (!encoder.write(chunk)) break;
      for (const run of encoder.runs()) await onRun(run);
    }
    encoder.end();
    for (const run of [...encoder.runs(), encoder.take()]) if (run) await onRun(run);
    count += encoder.count;
    if (encoder.count) lastKey = encoder.lastKey;
    if (!encoder.failed) return { count, more: encoder.more, ...(lastKey ? { lastKey } : {}) };
    const take = Math.min(BUILT_ROWS, limit - count);
    const rows = await session.query<{ key: string[]; doc: string }>(
      `SELECT ARRAY[${plan.model.key.map((column) => `t.${ident(column.name)}::text`).join(', ')}] AS key, (${documentSql(plan.model, 't', plan.form)})::text AS doc ` +
      plan.rangeSql(tenant, condition, lastKey, take + 1), lastKey ?? []);
    const built = rows.slice(0, take);
    for (let i = 0; i < built.length; i += runRows) {
      const run = built.slice(i, i + runRows);
      await onRun({ docs: Buffer.from(run.map((row) => row.doc).join(',')), count: run.length, lastKey: run.at(-1)!.key });
    }
    count += built.length;
    if (built.length) lastKey = built.at(-1)!.key;
    if (rows.length <= take) return { count, more: false, ...(lastKey ? { lastKey } : {}) };
  }
  return { count, more: true, ...(lastKey ? { lastKey } : {}) };
}

/** `scanRows` of at most `limit` rows, their documents in one page. */
export async function scanPage(session: SqlSession, plan: ScanPlan, tenant: string | undefined, condition: string, after: string[] | undefined, limit: number): Promise<ScannedPage> {
  const docs: Buffer[] = [];
  const read = await scanRows(session, plan, tenant, condition, after, limit, (run) => docs.push(run.docs));
  return { ...read, docs: Buffer.concat(docs.flatMap((part, i) => (i ? [COMMA, part] : [part]))) };
}

/** The models a scan goes through, as the token names them: a scan token is only good for the same list. */
export const modelsDigest = (models: ServedModel[]): string => createHash('sha1').update(models.map((model) => model.name).join('\n')).digest('base64url').slice(0, 8);
