import type { CellValue } from '@entity-sync/core';

/** Rows that go although they also belong to rows outside the deleted graph: what a user must see before confirming. */
export interface OutsideEffect {
  entity: string;
  /** How many of its rows go. */
  rows: number;
  /** Keys of the first rows (at most 20). */
  sample: CellValue[][];
  /** The relation through which they are reached. */
  via: string;
  /** The rows outside the graph they belong to, per relation: these stay, but lose these rows. */
  outside: { relation: string; entity: string; rows: number }[];
}

/** What a delete did (or, in a dry run, would do). */
export interface DeleteReport {
  dryRun: boolean;
  /** Rows deleted per entity. */
  entities: Record<string, number>;
  /** Rows kept with a nullable foreign key set to NULL, per relation. */
  setNull: { relation: string; entity: string; rows: number }[];
  /** Deleted rows that also belong to rows outside the graph (invoice lines of other customers' invoices, playlist links...). */
  outside: OutsideEffect[];
  /** Rows written to the archive, when `archiveTo` was given (none in a dry run). */
  archived?: number;
  rows: number;
  statements: number;
}
