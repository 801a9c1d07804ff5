import type { DocumentEncoding, TextSink } from '@entity-sync/core';
import type { Writable } from 'node:stream';
import type { GraphProgress, WalkRules } from './key-walker.js';

/** Options of `exportGraph`. */
export interface ExportGraphOptions extends WalkRules {
  /** `json` (default): one document; `ndjson`: a stream of lines, for graphs of any size. */
  format?: DocumentEncoding;
  /** A file path (written atomically; opened before any query, `FILE_NOT_WRITABLE` if it cannot be), a writable stream, or a sink; omitted: the document is returned. */
  to?: string | Writable | TextSink;
  /** Time recorded in the header; `null` for a document that depends on the data alone. Default: now. */
  exportedAt?: Date | null;
  signal?: AbortSignal;
  onProgress?: (progress: GraphProgress) => void;
}
