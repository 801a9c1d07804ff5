/** A copy's fingerprint: how many documents, and an order-free hash of them. Equal on both sides means equal copies. */
export interface DocumentsChecksum {
  count: number;
  /** 16 hex digits: the sum, modulo 2^64, of each document's 64-bit hash. */
  checksum: string;
}

// a document in one spelling: keys sorted at every level, the client's own fields (`_deleted`, `_rev`, `_meta`...) left out
function canonical(value: unknown, top = false): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item)).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value).filter((key) => !top || !key.startsWith('_')).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

// 64 bits from two 32-bit FNV-1a passes over the UTF-16 code units (plain JavaScript, so that a browser computes it too)
function hash64(text: string): bigint {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x5bd1e995) ^ (b >>> 15);
  }
  return (BigInt(a >>> 0) << 32n) | BigInt(b >>> 0);
}

/**
 * The checksum of a set of documents as a pull sends them, in any order: what a client computes
 * over its copy of a model to compare with the server's (`POST <prefix>/checksum`). Properties
 * whose names start with `_` (a client library's own) are left out, so an RxDB or WatermelonDB
 * copy can be checked as it is stored.
 *
 * @example
 * ```ts
 * const mine = documentsChecksum(await db.todos.find().exec().then((docs) => docs.map((doc) => doc.toJSON())));
 * ```
 */
export function documentsChecksum(docs: Iterable<Record<string, unknown>>): DocumentsChecksum {
  let sum = 0n;
  let count = 0;
  for (const doc of docs) {
    sum = (sum + hash64(canonical(doc, true))) & 0xffff_ffff_ffff_ffffn;
    count++;
  }
  return { count, checksum: sum.toString(16).padStart(16, '0') };
}
