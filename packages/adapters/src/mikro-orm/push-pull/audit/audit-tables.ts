import { AuditError, type AuditRetention } from '@entity-sync/core';
import { ident, literal, type SqlSession } from '../../../internal/pg/sql-session.js';

/** The audit trail: one entry per change of an audited row, written by the row's trigger in the change's transaction. */
export const AUDIT_TABLE = 'entity_sync_audit';

/** The audited models as `installAudit` set them up: table, key, excluded columns, property names, retention. */
export const AUDIT_MODEL_TABLE = 'entity_sync_audit_model';

/** The setting that names who makes a transaction's changes (`setAuditActor`; the sync API sets its user). */
export const AUDIT_ACTOR_SETTING = 'entity_sync.actor';

/** The statements that create the audit tables (idempotent). */
export function auditTablesSql(schema: string): string[] {
  const s = ident(schema);
  return [
    `CREATE TABLE IF NOT EXISTS ${s}.${AUDIT_TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, model text NOT NULL, key jsonb NOT NULL, ` +
      "operation text NOT NULL CHECK (operation IN ('create', 'update', 'delete')), actor text, client text, " +
      'at timestamptz NOT NULL DEFAULT clock_timestamp(), xid xid8 NOT NULL DEFAULT pg_current_xact_id(), old jsonb, new jsonb)',
    // a row's history, and a model's entries newest first (the views and the count retention)
    `CREATE INDEX IF NOT EXISTS ${AUDIT_TABLE}_by_row ON ${s}.${AUDIT_TABLE} (model, key, id)`,
    `CREATE INDEX IF NOT EXISTS ${AUDIT_TABLE}_by_model ON ${s}.${AUDIT_TABLE} (model, id)`,
    // entries come in time order: a block range index serves time ranges at almost no cost to the writes
    `CREATE INDEX IF NOT EXISTS ${AUDIT_TABLE}_by_time ON ${s}.${AUDIT_TABLE} USING brin (at)`,
    `CREATE TABLE IF NOT EXISTS ${s}.${AUDIT_MODEL_TABLE} (model text PRIMARY KEY, table_name text NOT NULL, key_columns text[] NOT NULL, ` +
      'key_types text[] NOT NULL, excluded text[] NOT NULL, properties jsonb NOT NULL, retain_days double precision, keep bigint)',
  ];
}

/** An audited model as `installAudit` recorded it. */
export interface AuditedModelRow {
  model: string;
  /** `"schema"."table"`. */
  table: string;
  keyColumns: string[];
  /** The key columns' types (`format_type`), in the same order. */
  keyTypes: string[];
  excluded: string[];
  /** Column name -> property name, for the columns a property has alone. */
  properties: Record<string, string>;
  retention: AuditRetention;
}

const parsed = <T>(value: unknown): T => (typeof value === 'string' ? JSON.parse(value) : value) as T;

/** The audited models recorded in the database (`AUDIT_NOT_INSTALLED` when the audit tables are not there). */
export async function auditedModelRows(session: SqlSession, schema: string): Promise<Map<string, AuditedModelRow>> {
  if (!(await session.tableExists(`${ident(schema)}.${AUDIT_MODEL_TABLE}`))) throw AuditError.notInstalled();
  const rows = await session.query<{ model: string; table_name: string; key_columns: string[]; key_types: string[]; excluded: string[]; properties: unknown; retain_days: number | null; keep: string | null }>(
    `SELECT model, table_name, key_columns, key_types, excluded, properties, retain_days, keep::text AS keep FROM ${ident(schema)}.${AUDIT_MODEL_TABLE} ORDER BY model`);
  return new Map(rows.map((row) => [row.model, {
    model: row.model, table: row.table_name, keyColumns: row.key_columns, keyTypes: row.key_types, excluded: row.excluded, properties: parsed(row.properties),
    retention: { ...(row.retain_days !== null ? { days: Number(row.retain_days) } : {}), ...(row.keep !== null ? { keep: Number(row.keep) } : {}) },
  }]));
}

/** The row of `model` (`AUDIT_MODEL_NOT_AUDITED` when it has none). */
export function auditedModel(models: Map<string, AuditedModelRow>, model: string): AuditedModelRow {
  const row = models.get(model);
  if (!row) throw AuditError.notAudited([model], [...models.keys()]);
  return row;
}

/** The values of a recorded document (columns) under their property names. */
export function asProperties(model: AuditedModelRow | undefined, doc: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(doc).map(([column, value]) => [model?.properties[column] ?? column, value]));
}

/** A row key as the trail files it: the JSON list of its key values. */
export function keyText(key: unknown): string {
  return JSON.stringify(Array.isArray(key) ? key : [key]);
}

/** `to_jsonb(row) - <this>` takes the excluded columns out of a row's document. */
export function columnList(columns: string[]): string {
  return `${literal(`{${columns.map((column) => `"${column.replace(/["\\]/g, '\\$&')}"`).join(',')}}`)}::text[]`;
}

/** `jsonb_build_array((?::jsonb->>0)::type1, ...)`: a key sent as its JSON list, as the trail files it (a key of numbers sent as texts too). */
export function keyJsonOf(model: AuditedModelRow): string {
  return `jsonb_build_array(${model.keyTypes.map((type, i) => `(?::jsonb->>${i})::${type}`).join(', ')})`;
}

/** `(t.k1, t.k2) = ((?::jsonb->>0)::type1, ...)`: the row of a key sent as its JSON list, by the table's own key (its index). */
export function keyMatch(model: AuditedModelRow, row: string): string {
  return `(${model.keyColumns.map((column) => `${row}.${ident(column)}`).join(', ')}) = ` +
    `(${model.keyTypes.map((type, i) => `(?::jsonb->>${i})::${type}`).join(', ')})`;
}

export { parsed as parsedJson };
