import { createHash } from 'node:crypto';
import { ident, literal, type SqlSession } from '../../internal/pg/sql-session.js';
import { documentSql } from './documents.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { ServedModel } from './served-models.js';

// A client's first pull reads the served tables themselves, in key order, instead of the row
// versions: no version row to read and no row to find by key, and the documents are written in
// Node from COPY's text, so that PostgreSQL and Node work side by side. The values whose COPY
// text is their JSON (numbers, booleans, text) or is close to it (timestamps) are written from
// it; every other type goes through to_jsonb in the COPY, so each value is the one a document of
// the row versions carries (`documentSql`). A value the fast path does not expect (NaN, an
// infinite or BC timestamp) sends the page the other way: the documents built by PostgreSQL.

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

/** How one served model's rows are read for a first pull: the COPY's columns (key first) and the document each line makes. */
export class ScanPlan {
  readonly select: string;
  private readonly names: Buffer[];
  private readonly kinds: Kind[];

  constructor(readonly model: ServedModel) {
    this.kinds = model.fields.map((field) => kindOf(field.column.type));
    this.names = model.fields.map((field, i) => Buffer.from(`${i ? ',' : '{'}${JSON.stringify(field.property)}:`));
    const values = model.fields.map((field, i) => (this.kinds[i] === Kind.Json ? `to_jsonb(t.${ident(field.column.name)})::text` : `t.${ident(field.column.name)}`));
    this.select = [...model.key.map((column) => `t.${ident(column.name)}`), ...values].join(', ');
  }

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

  /** A writer of the documents of COPY lines of `select`, comma-separated, at most `max` of them (a line past them sets `more`). */
  encoder(max = Infinity): DocumentEncoder {
    return new DocumentEncoder(this.model.key.length, this.names, this.kinds, max);
  }
}

/**
 * Writes documents (JSON, UTF-8) from COPY text lines fed in chunks of any size. `write` returns
 * false at a value it does not write (the page is then read the other way); the last line's key
 * values are kept as text, for the next page to start after.
 */
export class DocumentEncoder {
  count = 0;
  /** A line came past `max`: there are more rows than the documents written. */
  more = false;
  /** The key values of the last line, as COPY wrote them (unescaped). */
  lastKey: string[] = [];
  private out = Buffer.allocUnsafe(1 << 16);
  private at = 0;
  private rest: Uint8Array | undefined;
  private readonly namesLength: number;

  constructor(private readonly keys: number, private readonly names: Buffer[], private readonly kinds: Kind[], private readonly max = Infinity) {
    this.namesLength = names.reduce((sum, name) => sum + name.length, 0);
  }

  /** Adds the lines of `chunk` (the part of a line it ends in waits for the next chunk). */
  write(chunk: Uint8Array): boolean {
    if (this.more) return true;
    // documents are about twice their COPY text: grow ahead of them, not line by line
    this.room(chunk.length * 2);
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
    return end === 0 || this.lines(input, end);
  }

  /** The documents written, comma-separated (COPY ends every line: a rest is one more line). */
  finish(): Buffer | undefined {
    if (this.rest?.length && !this.write(Buffer.from([NEWLINE]))) return undefined;
    return this.out.subarray(0, this.at);
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.out.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.out.length * 2, this.at + bytes));
    this.out.copy(grown, 0, 0, this.at);
    this.out = grown;
  }

  /** Writes the documents of the whole lines in `input` up to `end` (just past a newline). */
  private lines(input: Uint8Array, end: number): boolean {
    const { names, kinds, keys } = this;
    let pos = 0;
    let lastLine = -1;
    while (pos < end) {
      if (this.count === this.max) {
        this.more = true;
        break;
      }
      lastLine = pos;
      const lineEnd = input.indexOf(NEWLINE, pos);
      // the longest a document can grow: every byte an escape of 6, and the names
      this.room(this.namesLength + (lineEnd - pos) * 6 + 16);
      const out = this.out;
      let at = this.at;
      for (let k = 0; k < keys; k++) pos = input.indexOf(TAB, pos) + 1;
      if (this.count) out[at++] = 44;
      for (let i = 0; i < kinds.length; i++) {
        let stop = i === kinds.length - 1 ? lineEnd : input.indexOf(TAB, pos);
        if (stop === -1 || stop > lineEnd) stop = lineEnd;
        const name = names[i]!;
        for (let n = 0; n < name.length; n++) out[at++] = name[n]!;
        if (stop - pos === 2 && input[pos] === BACKSLASH && input[pos + 1] === 78) {
          for (let n = 0; n < 4; n++) out[at++] = NULL[n]!;
        } else {
          at = writeValue(kinds[i]!, input, pos, stop, out, at);
          if (at < 0) return false;
        }
        pos = stop + 1;
      }
      if (!kinds.length) out[at++] = 123;
      out[at++] = 125;
      this.at = at;
      this.count++;
      pos = lineEnd + 1;
    }
    if (lastLine < 0) return true;
    this.lastKey = [];
    for (let k = 0, from = lastLine; k < keys; k++) {
      const stop = input.indexOf(TAB, from);
      this.lastKey.push(unescapeCopy(Buffer.from(input.buffer, input.byteOffset + from, stop - from).toString('utf8')));
      from = stop + 1;
    }
    return true;
  }
}

/** Writes the JSON of one value from its COPY text `input[from, stop)` into `out` at `at`; the new end, or -1 for a value the fast path does not write. */
function writeValue(kind: Kind, input: Uint8Array, from: number, stop: number, out: Buffer, at: number): number {
  switch (kind) {
    case Kind.Number:
      // digits, sign, point and exponent only: NaN and Infinity are not JSON numbers. A float's -0 is 0, as in to_jsonb
      if (stop - from === 2 && input[from] === 45 && input[from + 1] === 48) {
        out[at++] = 48;
        return at;
      }
      for (let p = from; p < stop; p++) {
        const c = input[p]!;
        if (!((c >= 48 && c <= 57) || c === 45 || c === 46 || c === 101 || c === 69 || c === 43)) return -1;
        out[at++] = c;
      }
      return at;
    case Kind.Boolean: {
      const word = input[from] === 116 ? TRUE : FALSE;
      for (let n = 0; n < word.length; n++) out[at++] = word[n]!;
      return at;
    }
    case Kind.Text:
      out[at++] = QUOTE;
      for (let p = from; p < stop; p++) {
        let c = input[p]!;
        if (c === BACKSLASH) {
          const e = input[++p];
          c = e === 110 ? 10 : e === 116 ? 9 : e === 114 ? 13 : e === 98 ? 8 : e === 102 ? 12 : e === 118 ? 11 : e === BACKSLASH ? BACKSLASH : -1;
          if (c < 0) return -1;
        }
        if (c === QUOTE || c === BACKSLASH) {
          out[at++] = BACKSLASH;
          out[at++] = c;
        } else if (c < 32) {
          out[at++] = BACKSLASH;
          out[at++] = 117;
          out[at++] = 48;
          out[at++] = 48;
          out[at++] = HEX[c >> 4]!;
          out[at++] = HEX[c & 15]!;
        } else out[at++] = c;
      }
      out[at++] = QUOTE;
      return at;
    case Kind.TimestampTz:
    case Kind.Timestamp: {
      // ISO, in UTC: 2024-01-01 00:00:05[.123456][+00] -> "2024-01-01T00:00:05[.123456][+00:00]"
      const zoned = kind === Kind.TimestampTz;
      const length = stop - from - (zoned ? 3 : 0);
      if (length < 19 || length > 26 || input[from + 4] !== 45 || input[from + 10] !== 32 || input[from + 13] !== 58 ||
        (zoned && (input[stop - 3] !== 43 || input[stop - 2] !== 48 || input[stop - 1] !== 48))) return -1;
      // a fraction of digits, nothing else (not " BC")
      if (length > 19 && input[from + 19] !== 46) return -1;
      for (let p = from + 20; p < from + length; p++) if (input[p]! < 48 || input[p]! > 57) return -1;
      out[at++] = QUOTE;
      for (let p = from; p < from + length; p++) out[at++] = p === from + 10 ? 84 : input[p]!;
      if (zoned) for (let n = 0; n < ZONE.length; n++) out[at++] = ZONE[n]!;
      out[at++] = QUOTE;
      return at;
    }
    case Kind.Json:
      // to_jsonb's text, in which COPY escaped only backslashes (JSON text holds no raw tab or newline)
      for (let p = from; p < stop; p++) {
        const c = input[p]!;
        if (c === BACKSLASH && input[++p] !== BACKSLASH) return -1;
        out[at++] = c;
      }
      return at;
  }
}

const COPY_ESCAPE = /\\(.)/g;
const ESCAPED: Record<string, string> = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v' };

/** A value of COPY's text format, unescaped. */
export const unescapeCopy = (text: string): string => (text.includes('\\') ? text.replace(COPY_ESCAPE, (_, c: string) => ESCAPED[c] ?? c) : text);

/** One page of a model's rows read for a first pull: the documents, comma-separated, how many, the last key (none: no row), and whether more rows follow. */
export interface ScannedPage {
  docs: Buffer;
  count: number;
  lastKey?: string[];
  more: boolean;
}

/**
 * Reads at most `limit` rows of `plan`'s model after the key `after` (text values), with `tenant`'s
 * rows only and `condition` (SQL on the row `t`) holding: by COPY and the encoder, or, at a value
 * it does not write, by documents PostgreSQL builds. One row more is read, to tell whether more follow.
 */
export async function scanPage(session: SqlSession, plan: ScanPlan, tenant: string | undefined, condition: string, after: string[] | undefined, limit: number): Promise<ScannedPage> {
  const encoder = plan.encoder(limit);
  let written = true;
  // in key order by the key's index, whatever the filters: a sort would read the whole table for every page
  await session.run('SET LOCAL enable_sort = off');
  for await (const chunk of session.copyOutBytes(`COPY (SELECT ${plan.select} ${plan.rangeSql(tenant, condition, after, limit + 1, true)}) TO STDOUT`)) {
    if (written) written = encoder.write(chunk);
  }
  const docs = written ? encoder.finish() : undefined;
  if (docs) return { docs, count: encoder.count, more: encoder.more, ...(encoder.count ? { lastKey: encoder.lastKey } : {}) };
  const rows = await session.query<{ key: string[]; doc: string }>(
    `SELECT ARRAY[${plan.model.key.map((column) => `t.${ident(column.name)}::text`).join(', ')}] AS key, (${documentSql(plan.model, 't')})::text AS doc ` +
    plan.rangeSql(tenant, condition, after, limit + 1), after ?? []);
  const page = rows.slice(0, limit);
  return { docs: Buffer.from(page.map((row) => row.doc).join(',')), count: page.length, more: rows.length > limit, ...(page.length ? { lastKey: page.at(-1)!.key } : {}) };
}

/** The models a scan goes through, as the token names them: a scan token is only good for the same list. */
export const modelsDigest = (models: ServedModel[]): string => createHash('sha1').update(models.map((model) => model.name).join('\n')).digest('base64url').slice(0, 8);
