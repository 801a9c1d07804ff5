/** What a change did to a row: created it, updated some of its columns, deleted it. */
export type AuditOperation = 'create' | 'update' | 'delete';

/** One change of an audited row, as the audit trail recorded it in the transaction that made it. */
export interface AuditEntry {
  /** The entry's id: entries of one row are in the order of their ids. */
  id: string;
  /** The entity name. */
  model: string;
  /** The row's primary key: its value, or the list of its values for a composite key (as before the change). */
  key: unknown;
  operation: AuditOperation;
  /** Who made the change: the sync API's user, or the actor the app set for the transaction (`setAuditActor`); null when none was set. */
  actor: string | null;
  /** The sync API client that pushed the change, if it came through a push. */
  client: string | null;
  /** When the change was made (ISO 8601, UTC). */
  at: string;
  /**
   * Per property changed, its value before and after: only `new` for a create (every property),
   * only `old` for a delete, both for an update (only the properties whose values changed).
   * Values are as JSON holds them (a date as its ISO text).
   */
  changes: Record<string, { old?: unknown; new?: unknown }>;
}
