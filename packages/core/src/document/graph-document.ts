/** Format name written in every graph document. */
export const GRAPH_FORMAT = 'entity-sync/graph';
/** The document version this release writes and reads. */
export const GRAPH_FORMAT_VERSION = 1;

/** A column value as PostgreSQL's text representation, which round-trips every type exactly. */
export type CellValue = string | null;
/** One row: values in the order of its entity's `columns`. */
export type DocumentRow = CellValue[];

/** A column as the source database declares it. */
export interface DocumentColumn {
  name: string;
  /** PostgreSQL type as `format_type` prints it (`integer`, `numeric(10,2)`, `timestamp with time zone`...). */
  type: string;
  nullable: boolean;
}

/** One entity of the document: where its rows go, its schema fingerprint, and how many rows it has. */
export interface DocumentEntity {
  name: string;
  table: string;
  primaryKey: string[];
  columns: DocumentColumn[];
  rows: number;
}

/** A root the export started from. */
export interface DocumentRoot {
  entity: string;
  key: CellValue[];
}

/** Everything before the rows: self-describing and versioned. */
export interface GraphDocumentHeader {
  format: typeof GRAPH_FORMAT;
  version: number;
  /** When the export ran (ISO 8601), or null when the caller asked for a timeless document. */
  exportedAt: string | null;
  roots: DocumentRoot[];
  /** Entities in dependency order: every row's references come earlier (cycles aside). */
  entities: DocumentEntity[];
}

/** A whole document in memory: the header and each entity's rows. */
export interface GraphDocument extends GraphDocumentHeader {
  data: Record<string, DocumentRow[]>;
}

/** The two encodings: one JSON document, or newline-delimited JSON read and written as a stream. */
export type DocumentEncoding = 'json' | 'ndjson';
