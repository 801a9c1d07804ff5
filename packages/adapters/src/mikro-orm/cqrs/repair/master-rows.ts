import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, findKeysByCursor } from '../../extension/compat.js';
import { ident, literal, SqlSession } from '../../../internal/pg/sql-session.js';
import type { CapturedRow, MasterEntity, MasterMessages } from '../master/master-messages.js';
import { joinOn } from '../replica/replica-batch.js';

// SQL over primary keys, and the master rows of a CQRS id read page by page.

export const keyArray = (alias: string, columns: string[]) => `jsonb_build_array(${columns.map((c) => `${alias}.${ident(c)}`).join(', ')})`;
const keyObject = (alias: string, columns: string[]) =>
  `jsonb_build_object(${columns.map((c) => `${literal(c)}, ${alias}.${ident(c)}`).join(', ')})`;
const keyTuple = (alias: string, columns: string[]) => columns.map((c) => `${alias}.${ident(c)}`).join(', ');
export interface Relation {
  sql: string;
  params: unknown[];
  /** The same relation with its parameters written in (for a view). */
  inline: string;
}

/** `(key, revision)` of the rows of `cqrsId` in a revision table, or no rows when the table does not exist. */
export async function revisionsOf(session: SqlSession, table: string, cqrsId: string): Promise<Relation> {
  const select = `(SELECT key, revision FROM ${table} WHERE cqrs_id = `;
  const none = '(SELECT NULL::jsonb AS key, NULL::bigint AS revision WHERE false)';
  return await session.tableExists(table)
    ? { sql: `${select}?)`, params: [cqrsId], inline: `${select}${literal(cqrsId)})` }
    : { sql: none, params: [], inline: none };
}

export interface MasterSource {
  master: MasterEntity;
  qualified: string;
  /** Primary-key columns in the order the capture trigger records keys. */
  keyColumns: string[];
  revisionTable: string;
  revisions: Relation;
}

export async function masterSource(tx: EntityManager, session: SqlSession, messages: MasterMessages, cqrsId: string): Promise<MasterSource> {
  const master = messages.master(cqrsId);
  const schema = defaultSchemaOf(tx);
  const revisionTable = `${ident(schema)}.entity_sync_revision`;
  return {
    master,
    qualified: `${ident(master.node.schema ?? schema)}.${ident(master.node.table)}`,
    keyColumns: master.node.primaryKey,
    revisionTable,
    revisions: await revisionsOf(session, revisionTable, cqrsId),
  };
}

export interface MasterRow {
  key: unknown[];
  /** The key as PostgreSQL prints it: exact for every type (bigint included). */
  keyText: string;
  revision: number;
  /** The row's `to_jsonb` text (what the capture trigger records), for `toMessage` to read exactly. */
  row?: string;
}

export interface MasterPage {
  rows: MasterRow[];
  next?: string;
}

/** One page of master rows in primary-key order, with their current revision (0 for rows written before installOutbox). */
export async function readMasterPage(tx: EntityManager, session: SqlSession, source: MasterSource,
  options: { filter?: object; after?: string; size: number; withRows: boolean }): Promise<MasterPage> {
  const { qualified, keyColumns, revisions } = source;
  const key = keyArray('t', keyColumns);
  const select = `SELECT ${options.withRows ? 'to_jsonb(t)::text AS row, ' : ''}${key} AS key, ${key}::text AS key_text, ` +
    `coalesce(r.revision, 0)::text AS revision, ${keyObject('t', keyColumns)}::text AS cursor ` +
    `FROM ${qualified} t LEFT JOIN ${revisions.sql} r ON r.key = ${key}`;
  type Found = { row?: string; key: unknown[]; key_text: string; revision: string; cursor: string };
  const toRow = (found: Found): MasterRow => ({ key: found.key, keyText: found.key_text, revision: Number(found.revision), row: found.row });
  if (!options.filter) {
    const after = options.after === undefined ? ''
      : ` WHERE (${keyTuple('t', keyColumns)}) > (SELECT ${keyTuple('p', keyColumns)} FROM jsonb_populate_record(null::${qualified}, ?::jsonb) p)`;
    const found = await session.query<Found>(`${select}${after} ORDER BY ${keyTuple('t', keyColumns)} LIMIT ${options.size}`,
      [...revisions.params, ...(options.after === undefined ? [] : [options.after])]);
    return { rows: found.map(toRow), next: found.length === options.size ? found.at(-1)!.cursor : undefined };
  }
  const page = await findKeysByCursor(tx, source.master.entity, options.filter, source.master.node.primaryKeyProperties, options.size, options.after);
  tx.clear();
  if (page.keys.length === 0) return { rows: [], next: undefined };
  const keys = page.keys.map((values) => Object.fromEntries(keyColumns.map((column, i) => [column, values[i]])));
  const found = await session.query<Found>(
    `${select} JOIN jsonb_populate_recordset(null::${qualified}, ?::jsonb) p ON ${joinOn('t', 'p', keyColumns)} ORDER BY ${keyTuple('t', keyColumns)}`,
    [...revisions.params, JSON.stringify(keys)]);
  return { rows: found.map(toRow), next: page.next };
}

export function syncChange(cqrsId: string, key: unknown[], revision: number, state: CapturedRow | null) {
  return { cqrsId, key, operation: 'sync' as const, revision, state, createdAt: new Date().toISOString() };
}

export function publishOptions(queue: string | undefined): { queue: string } | undefined {
  return queue === undefined ? undefined : { queue };
}

