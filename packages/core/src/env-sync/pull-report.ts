/** A field of an updated row: its value in the target before and in the pull. */
export interface FieldChange {
  field: string;
  old: string | null;
  new: string | null;
}

/** A row named by its natural key (the values in the order of the model's key paths). */
export interface PulledRow {
  key: (string | null)[];
}

/** What a pull does to one model. */
export interface ModelPullReport {
  model: string;
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  /** Files downloaded through `fetchFile`. */
  filesFetched: number;
  /** The first `listLimit` created, updated (with each changed field) and deleted rows. */
  rows: {
    created: PulledRow[];
    updated: (PulledRow & { changes: FieldChange[] })[];
    deleted: PulledRow[];
  };
  /** More rows changed than `rows` lists (the counts are always complete). */
  truncated: boolean;
}

/** What `pullReferenceData` did (or, in a dry run, would do): per model in the order applied. */
export interface PullReport {
  dryRun: boolean;
  models: ModelPullReport[];
}
