import { EntitySyncError } from './entity-sync-error.js';

const reasons: Record<string, (directory: string) => string> = {
  ENOENT: (directory) => `the directory ${directory} does not exist; create it or choose another path`,
  ENOTDIR: (directory) => `a part of ${directory} is a file, not a directory; choose another path`,
  EACCES: () => 'permission denied; choose a path you may write to, or fix the permissions',
  EPERM: () => 'permission denied; choose a path you may write to, or fix the permissions',
  EROFS: () => 'the file system is read-only; choose another path',
  EISDIR: () => 'it is a directory; give the path of a file',
  ENOSPC: () => 'the disk is full; free some space or choose another disk',
};

/** A file an operation was told to read or write that it cannot use. */
export class FileError extends EntitySyncError {
  static notFound(path: string): FileError {
    return new FileError('FILE_NOT_FOUND', `No file at ${path}. Check the path of the export file.`, { info: { path } });
  }

  /** `directory`: the folder the file goes in, named when it is missing. */
  static notWritable(path: string, cause: unknown, directory = 'it goes in'): FileError {
    const code = (cause as { code?: unknown })?.code;
    const reason = typeof code === 'string' && reasons[code]
      ? reasons[code]!(directory)
      : `${(cause as Error)?.message ?? String(cause)}; choose a path you may write to`;
    return new FileError('FILE_NOT_WRITABLE', `Cannot write ${path}: ${reason}. Nothing was written.`, { cause, info: { path, code } });
  }
}
