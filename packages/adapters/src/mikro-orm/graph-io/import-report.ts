import type { CellValue, ImportConflict } from '@entity-sync/core';

/** Per-entity outcome of an import. */
export interface EntityImportCounts {
  /** Inserted under the file's key. */
  created: number;
  /** Existing rows given the file's values (`overwrite`). */
  updated: number;
  /** Existing rows left as they are: `skip`, or rows that `overwrite` found identical already. */
  skipped: number;
  /** Inserted under a new key (`remap`). */
  remapped: number;
  /** Existing rows used in their place, matched by natural key (`matchBy: 'naturalKey'`). */
  reused: number;
}

/** Values the target stored otherwise than the file has them: computed by a generated column, or changed by a BEFORE trigger. */
export interface RewrittenValues {
  entity: string;
  column: string;
  /** How many imported rows hold another value than the file's. */
  rows: number;
  /** Document keys of the first such rows (at most 5). */
  sample: CellValue[][];
  /** `generated column`, or the triggers of the table (`trigger set_last_update`). */
  by: string;
}

/** What an import did (or, in a dry run, would do). */
export interface ImportReport {
  dryRun: boolean;
  entities: Record<string, EntityImportCounts>;
  /** Every row that collided with a target row, however the policy resolved it. */
  conflicts: ImportConflict[];
  /** Rows that live under another key in the target: `[document key, target key]` pairs per entity. */
  idMap: Record<string, [CellValue[], CellValue[]][]>;
  /** Sequences moved past the highest imported id (or drawn from for remapped keys). */
  sequences: string[];
  /** Imported values the target's generated columns or triggers made differ from the file: empty when every row is as in the file. */
  rewritten: RewrittenValues[];
  rows: number;
  statements: number;
}
