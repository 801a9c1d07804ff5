import type { Readable } from 'node:stream';

/**
 * Where the files of `@SyncModel({ fileFields })` columns live: the column holds a reference
 * (`ref`), the store holds the bytes. Content-addressed: a store knows its files by their sha256,
 * so the pull asks `has(hash)` and downloads only content it lacks, and a rolled-back pull
 * deletes exactly what it wrote. A directory (`LocalDirectoryStorage`) is built in; an S3-like
 * store fits by keying objects on the hash.
 *
 * @example
 * ```ts
 * class S3Storage implements FileStorage {
 *   async has(hash) { return (await head(`files/${hash}`)) ? `files/${hash}` : undefined; }
 *   async read(ref) { return (await get(ref)).Body as Readable; }
 *   async write(hash, content) { await put(`files/${hash}`, content, { ChecksumSHA256: hash }); return `files/${hash}`; }
 *   async delete(ref) { await remove(ref); }
 * }
 * ```
 */
export interface FileStorage {
  /** The reference of a stored file whose content has this sha256 (hex), or undefined when there is none. */
  has(hash: string): Promise<string | undefined>;
  /** The content of the file `ref` names. */
  read(ref: string): Promise<Readable>;
  /** Stores content whose sha256 is `hash` and returns its reference; fails when the bytes do not hash to it. */
  write(hash: string, content: Readable): Promise<string>;
  /** Deletes the file `ref` names (nothing when there is none). */
  delete(ref: string): Promise<void>;
}
