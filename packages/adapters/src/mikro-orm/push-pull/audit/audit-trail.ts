import { OptionError, type AuditEntry, type AuditOperation } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { checkTimeRange, idCursor, pagedLines, pageSize } from '../record-pages.js';
import { asProperties, AUDIT_TABLE, auditedModel, auditedModelRows, keyJsonOf, keyText, parsedJson, type AuditedModelRow } from './audit-tables.js';

/** Options of `auditTrail`: every filter given must hold. */
export interface AuditTrailOptions {
  /** The entity whose rows' changes to list. */
  model?: string;
  /** One row's changes: its primary key (the list of its values for a composite key); needs `model`. */
  key?: unknown;
  /** Changes made by this actor. */
  actor?: string;
  operation?: AuditOperation | AuditOperation[];
  /** Changes made at or after this time. */
  since?: Date;
  /** Changes made before this time. */
  until?: Date;
  /** Entries per page (default 100, at most 10,000). */
  limit?: number;
  /** The `cursor` of the page before: the page after it. */
  cursor?: string | null;
  /** `newest` first (default) or `oldest` first. */
  order?: 'newest' | 'oldest';
}

/** A page of the audit trail. */
export interface AuditTrailPage {
  entries: AuditEntry[];
  /** Pass it back for the next page; null when this page is the last. */
  cursor: string | null;
}

const OPERATIONS: AuditOperation[] = ['create', 'update', 'delete'];

const cursors = idCursor('audit', 'audit trail');

/** The entry of a trail row, its values under their property names. */
export function auditEntryOf(row: { id: string; model: string; key: unknown; operation: AuditOperation; actor: string | null; client: string | null; at: Date | string; old: unknown; new: unknown },
  model: AuditedModelRow | undefined): AuditEntry {
  const key = parsedJson<unknown[]>(row.key);
  const old = asProperties(model, parsedJson<Record<string, unknown> | null>(row.old) ?? {});
  const now = asProperties(model, parsedJson<Record<string, unknown> | null>(row.new) ?? {});
  const changes: AuditEntry['changes'] = {};
  for (const property of new Set([...Object.keys(old), ...Object.keys(now)])) {
    changes[property] = { ...(property in old ? { old: old[property] } : {}), ...(property in now ? { new: now[property] } : {}) };
  }
  return {
    id: row.id, model: row.model, key: key.length === 1 ? key[0] : key, operation: row.operation, actor: row.actor, client: row.client,
    at: new Date(row.at).toISOString(), changes,
  };
}

/**
 * Lists changes from the audit trail, newest first, a page at a time: by model, row, actor,
 * operation and time range. Each entry has the changed properties' old and new values.
 *
 * @example
 * ```ts
 * let page = await auditTrail(orm.em.fork(), { model: 'Order', key: 42 });
 * while (page.cursor) page = await auditTrail(orm.em.fork(), { model: 'Order', key: 42, cursor: page.cursor });
 * ```
 */
export async function auditTrail(em: EntityManager, options: AuditTrailOptions = {}): Promise<AuditTrailPage> {
  checkEntityManager('auditTrail', em, "auditTrail(orm.em.fork(), { model: 'Order' })");
  const limit = pageSize('auditTrail', options.limit);
  if (options.key !== undefined && options.model === undefined) throw OptionError.invalid('auditTrail', 'key', options.key, 'a key together with model');
  const operations = options.operation === undefined ? undefined : [options.operation].flat();
  if (operations?.some((operation) => !OPERATIONS.includes(operation))) throw OptionError.invalid('auditTrail', 'operation', options.operation, OPERATIONS.join(', '));
  checkTimeRange('auditTrail', options);
  if (options.order !== undefined && options.order !== 'newest' && options.order !== 'oldest') throw OptionError.invalid('auditTrail', 'order', options.order, "'newest' or 'oldest'");
  return inTransaction(em, async (tx) => {
  const session = await SqlSession.open(tx);
  const schema = defaultSchemaOf(tx);
  const models = await auditedModelRows(session, schema);
  const audited = options.model === undefined ? undefined : auditedModel(models, options.model);
  const newest = options.order !== 'oldest';
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    where.push(sql);
    params.push(...values);
  };
  if (options.model !== undefined) add('model = ?', options.model);
  if (audited && options.key !== undefined) add(`key = ${keyJsonOf(audited)}`, ...audited.keyTypes.map(() => keyText(options.key)));
  if (options.actor !== undefined) add('actor = ?', options.actor);
  if (operations) add('operation = ANY(?::text[])', operations);
  if (options.since) add('at >= ?', options.since.toISOString());
  if (options.until) add('at < ?', options.until.toISOString());
  if (options.cursor) add(`id ${newest ? '<' : '>'} ?::bigint`, cursors.decode(options.cursor));
  const rows = await session.query<Parameters<typeof auditEntryOf>[0]>(
    `SELECT id::text AS id, model, key, operation, actor, client, at, old, new FROM ${ident(schema)}.${AUDIT_TABLE} ` +
    // ordered by the table's id, not the text the select list makes of it
    `a ${where.length ? `WHERE ${where.join(' AND ')} ` : ''}ORDER BY a.id ${newest ? 'DESC' : 'ASC'} LIMIT ${limit + 1}`, params);
  const entries = rows.slice(0, limit).map((row) => auditEntryOf(row, models.get(row.model)));
  return { entries, cursor: rows.length > limit ? cursors.encode(entries.at(-1)!.id) : null };
  });
}

/**
 * The trail's entries that pass the filters, in the page order asked, as CSV (a header line first:
 * id, at, model, key, operation, actor, client, changes as JSON) or NDJSON, a chunk of lines at a time.
 *
 * @example
 * ```ts
 * for await (const lines of exportAuditTrail(orm.em.fork(), { format: 'csv', model: 'Order' })) file.write(lines);
 * ```
 */
export function exportAuditTrail(em: EntityManager, options: Omit<AuditTrailOptions, 'cursor' | 'limit'> & { format: 'csv' | 'ndjson' }): AsyncGenerator<string> {
  checkEntityManager('exportAuditTrail', em, "exportAuditTrail(orm.em.fork(), { format: 'csv' })");
  return pagedLines('exportAuditTrail', options.format, (cursor) => auditTrail(em, { ...options, cursor, limit: 1000 }),
    ['id', 'at', 'model', 'key', 'operation', 'actor', 'client', 'changes'],
    (entry) => [entry.id, entry.at, entry.model, JSON.stringify(entry.key), entry.operation, entry.actor ?? '', entry.client ?? '', JSON.stringify(entry.changes)]);
}
