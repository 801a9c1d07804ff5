/** What every repair tool accepts besides its own options. */
export interface RepairOptions {
  /** Rows per page, statement and published batch. Default 500. */
  batchSize?: number;
  /** Aborts between statements; the transaction is rolled back. */
  signal?: AbortSignal;
}
