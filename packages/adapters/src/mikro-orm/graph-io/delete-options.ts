import type { DocumentEncoding } from '@entity-sync/core';
import type { Writable } from 'node:stream';
import type { GraphProgress } from './key-walker.js';

/** Options of `deleteGraph`. */
export interface DeleteGraphOptions {
  /** Plan everything, report it, and roll back. */
  dryRun?: boolean;
  /** Write an export of exactly the deleted rows here first (a file path or a stream); `importGraph` restores it. A path is opened before any query. */
  archiveTo?: string | Writable;
  /** Encoding of the archive. Default `json`. */
  archiveFormat?: DocumentEncoding;
  /** Nullable relations whose rows are kept with the key set to NULL instead of deleted (`'Customer.supportRep'`). */
  excludeRelations?: string[];
  signal?: AbortSignal;
  onProgress?: (progress: GraphProgress) => void;
}
