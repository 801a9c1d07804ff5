import { isLosslessNumber, LosslessNumber, parse } from 'lossless-json';

// A captured row is `to_jsonb(row)`: exact in PostgreSQL, where a JSON number is a `numeric`, but
// `JSON.parse` turns every number into a double, which drops digits beyond 2^53 and beyond about
// 15 significant digits, and the scale (`0.10` becomes 0.1). The relay reads the row as text
// and parses it here instead, so that such values never pass through a double.

// bigint, numeric and their aliases and arrays, as MikroORM names column types
const DIGIT_TYPES = /^\s*(bigint|int8|bigserial|serial8|numeric|decimal)\b/i;

/** True for a column whose values a message carries as digit strings (bigint, numeric, arrays of them). */
export function carriesDigits(columnType: string): boolean {
  return DIGIT_TYPES.test(columnType);
}

// Numbers that a double gives back with the same text stay numbers; the others keep their text.
const exactNumber = (text: string): unknown => {
  const value = Number(text);
  return String(value) === text ? value : new LosslessNumber(text);
};

/** Parses a row's JSON text without rounding any number: see `exactRow`. */
export function parseRowText(text: string): Record<string, unknown> {
  return parse(text, null, exactNumber) as Record<string, unknown>;
}

// The value of a bigint or numeric column (or an array of them, at any depth) as digit strings.
function digits(value: unknown): unknown {
  if (typeof value === 'number') return String(value);
  if (isLosslessNumber(value)) return value.value;
  return Array.isArray(value) ? value.map(digits) : value;
}

// Elsewhere (json and jsonb documents, floats) a number is a JSON number, as `JSON.parse` gives it.
function plainNumbers(value: unknown): unknown {
  if (isLosslessNumber(value)) return Number(value.value);
  if (Array.isArray(value)) return value.map(plainNumbers);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, plainNumbers(inner)]));
  }
  return value;
}

const hasLossless = (value: unknown): boolean => isLosslessNumber(value) ||
  (value !== null && typeof value === 'object' && Object.values(value).some(hasLossless));

/**
 * A captured row (column name -> value) in the form CQRS messages carry it: what `to_jsonb`
 * gives, except that bigint and numeric columns (and arrays of them) carry strings with
 * PostgreSQL's own digits (`"9223372036854775807"`, `"0.10"`, `["1.5", null]`), which is also how
 * MikroORM maps those types. `row` is the row's JSON text (exact), or an object parsed elsewhere,
 * whose numbers are whatever doubles that parser made of them. `NaN` and infinities of numeric
 * columns are strings in `to_jsonb` already.
 */
export function exactRow(row: string | Record<string, unknown>, digitColumns: ReadonlySet<string>): Record<string, unknown> {
  const parsed = typeof row === 'string' ? (digitColumns.size ? parseRowText(row) : JSON.parse(row) as Record<string, unknown>) : row;
  if (digitColumns.size === 0) return parsed;
  const exact: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(parsed)) {
    exact[column] = digitColumns.has(column) ? digits(value) : hasLossless(value) ? plainNumbers(value) : value;
  }
  return exact;
}
