import { OptionError } from '../errors/option-error.js';

/** How a record's key is read: a field, a list of fields (a composite key), or a function returning the key's values. */
export type KeySpec<R = Record<string, unknown>> = string | readonly string[] | ((record: R) => unknown);

/** Reads keys of records by a `KeySpec`: always the list of the key's values. */
export type KeyReader<R> = (record: R) => unknown[];

/** The reader of a key spec, checked (`INVALID_OPTION` for a spec that names nothing). */
export function keyReader<R>(fn: string, spec: KeySpec<R>): KeyReader<R> {
  if (typeof spec === 'function') return (record) => [spec(record)].flat();
  const fields = typeof spec === 'string' ? [spec] : spec;
  if (!Array.isArray(fields) || !fields.length || fields.some((field) => typeof field !== 'string' || !field)) {
    throw OptionError.invalid(fn, 'key', spec, 'a field name, a list of field names, or a function (record) => key');
  }
  if (fields.length === 1) {
    const [field] = fields as [string];
    return (record) => [(record as Record<string, unknown>)[field]];
  }
  return (record) => fields.map((field) => (record as Record<string, unknown>)[field]);
}

/** The key fields a spec names (none for a function). */
export const keyFields = (spec: KeySpec<never>): string[] => (typeof spec === 'function' ? [] : typeof spec === 'string' ? [spec] : [...spec]);

/** A key part that names nothing: null, undefined or NaN (an empty string is a key like any other). */
export const isNullPart = (part: unknown) => part === null || part === undefined || (typeof part === 'number' && Number.isNaN(part));

const rank = (part: unknown) => (typeof part === 'boolean' ? 0 : typeof part === 'number' || typeof part === 'bigint' ? 1 : typeof part === 'string' ? 2 : part instanceof Date ? 3 : 4);

// code point order, as PostgreSQL's "C" collation orders UTF-8 text: UTF-16 order differs only where a surrogate pair meets a character above it
function compareText(a: string, b: string): number {
  if (a === b) return 0;
  for (let i = 0, j = 0; i < a.length && j < b.length;) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(j)!;
    if (x !== y) return x < y ? -1 : 1;
    i += x > 0xffff ? 2 : 1;
    j += y > 0xffff ? 2 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * The order sorted sources yield their keys in, part by part: false before true, numbers
 * numerically (bigints with them), texts by code point (PostgreSQL's `COLLATE "C"`), dates by time;
 * across types, booleans, numbers, texts, dates, then anything else by its JSON text.
 */
export function compareKeys(a: readonly unknown[], b: readonly unknown[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    const rx = rank(x);
    const ry = rank(y);
    if (rx !== ry) return rx < ry ? -1 : 1;
    let order: number;
    if (rx === 0) order = x ? 1 : -1;
    else if (rx === 1) order = x! < y! ? -1 : x! > y! ? 1 : 0;
    else if (rx === 2) order = compareText(x as string, y as string);
    else if (rx === 3) order = Math.sign((x as Date).getTime() - (y as Date).getTime());
    else order = compareText(JSON.stringify(x), JSON.stringify(y));
    if (order) return order;
  }
  return Math.sign(a.length - b.length);
}

/** A key as one text, equal for equal keys (by `compareKeys`): what a hashed diff files records under. */
export function keyText(key: readonly unknown[]): string {
  // a bigint a number can hold is that number: 1n and 1 are one key
  return JSON.stringify(key.map((part) => (typeof part === 'bigint' ? (Number.isSafeInteger(Number(part)) ? Number(part) : { n: part.toString() })
    : part instanceof Date ? { d: part.getTime() } : part)));
}
