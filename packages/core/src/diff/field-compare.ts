/** Whether two values of a field are the same (true) or a change (false). */
export type FieldComparator = (left: unknown, right: unknown) => boolean;

/**
 * The same value: equal primitives (NaN equals NaN), dates of the same time, byte arrays of the same
 * bytes, arrays of the same values in order, objects of the same keys and values. What a field
 * is compared by when no comparator is given.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b) || a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    return typeof a === 'bigint' || typeof b === 'bigint' ? (typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint') && a == b : false;
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return x.every((byte, i) => byte === y[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => sameValue(item, b[i]));
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameValue((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

// the same letters in either case, without the locale's rules (the same answer on every machine)
const sameCase = (x: string, y: string) => x.toLowerCase() === y.toLowerCase() || x.toUpperCase() === y.toUpperCase();

const text = (value: unknown) => (value === null || value === undefined ? value : String(value));

/** Comparators for `diff`'s `compare` option, per field. */
export const comparators = {
  /** Texts equal but for case (`'Ada' ~ 'ADA'`). */
  caseInsensitive: ((a, b) => {
    const [x, y] = [text(a), text(b)];
    return x === y || (typeof x === 'string' && typeof y === 'string' && sameCase(x, y));
  }) as FieldComparator,
  /** Texts equal but for spaces around them (`' 7b ' ~ '7b'`). */
  trimmed: ((a, b) => {
    const [x, y] = [text(a), text(b)];
    return x === y || (typeof x === 'string' && typeof y === 'string' && x.trim() === y.trim());
  }) as FieldComparator,
  /** Texts equal but for case and the spaces around them. */
  trimmedCaseInsensitive: ((a, b) => {
    const [x, y] = [text(a), text(b)];
    return x === y || (typeof x === 'string' && typeof y === 'string' && sameCase(x.trim(), y.trim()));
  }) as FieldComparator,
  /** Numbers (or numeric texts) at most `tolerance` apart (`numeric(0.005)`: 1.234 ~ 1.23). */
  numeric: (tolerance = 0): FieldComparator => (a, b) => {
    if (a === b || (a === null && b === null)) return true;
    if (a === null || b === null || a === undefined || b === undefined || a === '' || b === '') return false;
    const [x, y] = [Number(a), Number(b)];
    return !Number.isNaN(x) && !Number.isNaN(y) && Math.abs(x - y) <= tolerance + Number.EPSILON * Math.max(Math.abs(x), Math.abs(y));
  },
} as const;
