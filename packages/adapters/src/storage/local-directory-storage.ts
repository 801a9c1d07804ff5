import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, rename, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EnvSyncError, FileError, isEntitySyncError, type FileStorage } from '@entity-sync/core';

const HASH = /^[0-9a-f]{64}$/;

/**
 * A `FileStorage` in a local directory, content-addressed: a file is stored once, at
 * `<directory>/<first two hex digits>/<sha256>`, and that relative path is its reference.
 * Writes go to a temporary file first and are renamed into place only when the bytes hash to
 * what was announced, so a half-written or wrong file is never visible.
 *
 * @example
 * ```ts
 * const storage = new LocalDirectoryStorage('/var/app/files');
 * const ref = await storage.write(hash, createReadStream('icon.png'));
 * ```
 */
export class LocalDirectoryStorage implements FileStorage {
  private readonly root: string;

  constructor(directory: string) {
    this.root = resolve(directory);
  }

  /** The reference content with this sha256 is stored under. */
  static refOf(hash: string): string {
    return `${hash.slice(0, 2)}/${hash}`;
  }

  async has(hash: string): Promise<string | undefined> {
    if (!HASH.test(hash)) return undefined;
    const ref = LocalDirectoryStorage.refOf(hash);
    return access(this.path(ref)).then(() => ref, () => undefined);
  }

  async read(ref: string): Promise<Readable> {
    const path = this.path(ref);
    await access(path).catch(() => Promise.reject(FileError.notFound(path)));
    return createReadStream(path);
  }

  async write(hash: string, content: Readable): Promise<string> {
    if (!HASH.test(hash)) throw EnvSyncError.fileInvalid(hash, 'it is not a sha256 in hex');
    const ref = LocalDirectoryStorage.refOf(hash);
    const path = this.path(ref);
    const directory = join(this.root, hash.slice(0, 2));
    await mkdir(directory, { recursive: true }).catch((error: unknown) => Promise.reject(FileError.notWritable(path, error, directory)));
    const temporary = join(directory, `.${hash}.${randomUUID()}.part`);
    const digest = createHash('sha256');
    const hashing = new Transform({ transform(chunk: Buffer, _encoding, done) { digest.update(chunk); done(null, chunk); } });
    try {
      await pipeline(content, hashing, createWriteStream(temporary));
      const actual = digest.digest('hex');
      if (actual !== hash) throw EnvSyncError.fileInvalid(hash, `its bytes hash to ${actual}`);
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      // a typed failure of the content (a download cut short, a wrong hash) is not the directory's
      if (isEntitySyncError(error)) throw error;
      throw FileError.notWritable(path, error, directory);
    }
    return ref;
  }

  async delete(ref: string): Promise<void> {
    await rm(this.path(ref), { force: true });
  }

  // A reference names a file inside the directory, never outside it.
  private path(ref: string): string {
    const path = resolve(this.root, ref);
    if (!path.startsWith(this.root + sep)) throw EnvSyncError.fileInvalid(ref, `reference ${JSON.stringify(ref)} leads outside ${this.root}`);
    return path;
  }
}
