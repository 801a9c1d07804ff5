import type { FileStorage } from '@entity-sync/core';
import type { Readable } from 'node:stream';

/** Options of `exportReferenceData`. */
export interface ExportReferenceDataOptions {
  /** The models to export (entity names); default every `@SyncModel`. */
  models?: string[];
  /** Where the file fields' files are read from; required when a model has `fileFields`. */
  storage?: FileStorage;
  /**
   * What the client already holds: per model, the digest of its rows (`<rows>:<md5>`, as the pull
   * computes it on the target). A model whose rows here have the same digest is sent without rows,
   * its header entry saying `unchanged: <rows>`.
   */
  have?: Record<string, string>;
  /** Rows per page read from the database. Default 5000. */
  batchSize?: number;
  /** Aborts between statements. */
  signal?: AbortSignal;
}

/** How far a pull is: `load` while the rows arrive (`rows` so far), `apply` as each model is written (`rows`: its rows). */
export interface PullProgress {
  phase: 'load' | 'apply';
  entity?: string;
  rows: number;
}

/** Options of `pullReferenceData`. */
export interface PullReferenceDataOptions {
  /** Compute everything, write nothing (the transaction rolls back, no file is fetched). */
  dryRun?: boolean;
  /** Delete rows of the pulled models that the source lacks; refused when that reaches rows of other models. */
  deleteMissing?: boolean;
  /** Where the file fields' files go; required when a pulled model has file columns. */
  storage?: FileStorage;
  /** Supplies the bytes of a file by its sha256 (over HTTP: `GET <prefix>/files/<hash>`); called only for content the storage lacks. */
  fetchFile?: (hash: string) => Promise<Readable>;
  /** How many created, updated and deleted rows the report lists per model (the counts are always complete). Default 100. */
  listLimit?: number;
  /** Rows per COPY batch into the staging tables. Default 5000. */
  batchSize?: number;
  /** Aborts between statements; the transaction is rolled back. */
  signal?: AbortSignal;
  /** Told how far the pull is, every few thousand rows and once per model written. */
  onProgress?: (progress: PullProgress) => void;
}
