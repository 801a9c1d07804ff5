import { CqrsError, judgeRevision, type CqrsMessage, type ReplicaOptions, type RevisionVerdict } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, entityClassOf, propertyNames, requiredProperties, unitOfWorkFeatures } from '../../extension/compat.js';
import { EntitySync } from '../../extension/entity-sync.js';
import { ident, literal, type SqlSession } from '../../../internal/pg/sql-session.js';
import { mapFields } from './field-mapping.js';
import type { ReplicaHandlers } from './replica-handlers.js';

/** `a.k1 = b.k1 AND ...` over key columns. */
export const joinOn = (left: string, right: string, columns: string[]) => columns.map((c) => `${left}.${ident(c)} = ${right}.${ident(c)}`).join(' AND ');
// A key array (`["a", 1]`) as a record of the table's row type, so that it compares with the
// table's own column types (and its primary-key index), whatever those types are.
export const keyRecord = (table: string, key: string, columns: string[]) =>
  `jsonb_populate_record(null::${table}, jsonb_build_object(${columns.map((c, i) => `${literal(c)}, ${key}->${i}`).join(', ')}))`;

/** One `@Replica` entity as the batch applier sees it. */
export interface ReplicaTarget {
  cqrsId: string;
  entity: string;
  options: ReplicaOptions;
  qualified: string;
  keyProperties: string[];
  keyColumns: string[];
  properties: Set<string>;
  stateTable: string;
  /** Property -> column, for the properties stored in one column of the table (scalars, many-to-one keys). */
  columns: Map<string, string>;
  /** Properties an insert cannot do without. */
  required: string[];
  handlers: ReplicaHandlers;
  /** Why saves go through MikroORM entities instead of one SQL statement (handlers, hooks); empty when they need not. */
  entityWrites: string[];
}

export function replicaTarget(tx: EntityManager, cqrsId: string): ReplicaTarget {
  const sync = EntitySync.forEntityManager(tx);
  const schema = defaultSchemaOf(tx);
  for (const node of sync.graph.nodes.values()) {
    const replica = sync.registryEntry(node.name)?.replica;
    if (replica?.cqrsId !== cqrsId) continue;
    const columnsOf = new Map<string, string[]>();
    for (const column of node.columns) columnsOf.set(column.property, [...columnsOf.get(column.property) ?? [], column.name]);
    const handlers = (entityClassOf(tx, node.name) ?? {}) as ReplicaHandlers;
    const handled = (['onCqrsCreate', 'onCqrsUpdate'] as const).filter((name) => typeof handlers[name] === 'function');
    return {
      cqrsId,
      entity: node.name,
      options: replica.options,
      qualified: `${ident(node.schema ?? schema)}.${ident(node.table)}`,
      keyProperties: node.primaryKeyProperties,
      keyColumns: node.primaryKey,
      properties: propertyNames(tx, node.name),
      stateTable: `${ident(schema)}.entity_sync_replica_state`,
      columns: new Map([...columnsOf].filter(([, names]) => names.length === 1).map(([property, [name]]) => [property, name!])),
      required: requiredProperties(tx, node.name),
      handlers,
      entityWrites: [...handled.map((name) => `its static ${name}`), ...unitOfWorkFeatures(tx, node.name)],
    };
  }
  const declared = [...sync.graph.nodes.keys()].flatMap((name) => sync.registryEntry(name)?.replica?.cqrsId ?? []);
  throw CqrsError.unknownReplica(cqrsId, declared);
}

type StoredRevision = { i: number; revision: string; deleted: boolean };

/** What the revision guard decided for a batch of one replica: a verdict per message, and the messages to apply (one per row). */
export interface JudgedBatch {
  verdicts: RevisionVerdict[];
  applying: CqrsMessage[];
}

/**
 * Locks and reads the stored revisions of a batch of one replica (one statement) and judges
 * every message. Per key the newest revision wins (a sync at an equal one), so that no statement
 * touches a row twice; the others are judged as if they came after it.
 */
export async function judgeBatch(session: SqlSession, replica: ReplicaTarget, batch: CqrsMessage[]): Promise<JudgedBatch> {
  const byKey = new Map<string, number[]>();
  batch.forEach((message, i) => {
    const key = JSON.stringify(message.key);
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  });
  const winners = [...byKey.values()].map((indexes) => indexes.reduce((best, i) => {
    const [a, b] = [batch[best]!, batch[i]!];
    return b.revision > a.revision || (b.revision === a.revision && b.operation === 'sync') ? i : best;
  }));
  const keys = JSON.stringify(winners.map((i) => batch[i]!.key));
  // One statement locks the stored revisions and inserts placeholder rows (revision -1) for keys
  // seen for the first time, so that a concurrent consumer of a row waits. A key another consumer
  // inserted after the statement began is in neither part: then a second statement reads them all.
  let stored = await session.query<StoredRevision>(
    `WITH k AS (SELECT value, i FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS k(value, i)), ` +
    `locked AS (SELECT k.i, s.revision, s.deleted FROM k JOIN ${replica.stateTable} s ON s.cqrs_id = ? AND s.key = k.value FOR UPDATE OF s), ` +
    `fresh AS (INSERT INTO ${replica.stateTable} (cqrs_id, key, revision, deleted) SELECT ?, value, -1, false FROM k ON CONFLICT DO NOTHING RETURNING key) ` +
    `SELECT i::int AS i, revision::text AS revision, deleted FROM locked UNION ALL SELECT k.i::int, '-1', false FROM k JOIN fresh ON fresh.key = k.value`,
  [keys, replica.cqrsId, replica.cqrsId]);
  if (stored.length < winners.length) {
    stored = await session.query<StoredRevision>(
      `SELECT k.i::int AS i, s.revision::text AS revision, s.deleted FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS k(value, i) ` +
      `JOIN ${replica.stateTable} s ON s.cqrs_id = ? AND s.key = k.value FOR UPDATE OF s`, [keys, replica.cqrsId]);
  }
  const storedAt = new Map(stored.map((row) => [row.i - 1, row]));
  const verdicts: RevisionVerdict[] = batch.map(() => 'stale');
  const applying: CqrsMessage[] = [];
  [...byKey.values()].forEach((indexes, k) => {
    const row = storedAt.get(k);
    const previous = row && Number(row.revision) >= 0 ? { revision: Number(row.revision), deleted: row.deleted } : undefined;
    const winner = winners[k]!;
    let verdict = judgeRevision(previous, batch[winner]!);
    // revisions between the stored one and the winner that came in the same batch are no gap
    if (verdict === 'gap' && indexes.some((i) => batch[i]!.revision === previous!.revision + 1)) verdict = 'apply';
    for (const i of indexes) verdicts[i] = i === winner ? verdict : batch[i]!.revision === batch[winner]!.revision ? 'duplicate' : 'stale';
    if (verdict === 'apply' || verdict === 'gap') applying.push(batch[winner]!);
  });
  return { verdicts, applying };
}

const keyOf = (replica: ReplicaTarget, message: CqrsMessage) =>
  Object.fromEntries(replica.keyProperties.map((property, i) => [property, message.key[i]]));

// Keys as records of the table's key columns, for jsonb_populate_recordset.
const keyRecords = (replica: ReplicaTarget, messages: CqrsMessage[]) =>
  JSON.stringify(messages.map((message) => Object.fromEntries(replica.keyColumns.map((column, i) => [column, message.key[i]]))));

// The positions (in `messages`) of the rows that exist.
async function existingRows(session: SqlSession, replica: ReplicaTarget, messages: CqrsMessage[]): Promise<Set<number>> {
  const found = await session.query<{ i: number }>(
    `SELECT k.i::int AS i FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS k(value, i) ` +
    `WHERE EXISTS (SELECT 1 FROM ${replica.qualified} t, ${keyRecord(replica.qualified, 'k.value', replica.keyColumns)} p ` +
    `WHERE ${joinOn('t', 'p', replica.keyColumns)})`, [JSON.stringify(messages.map((message) => message.key))]);
  return new Set(found.map((row) => row.i - 1));
}


/** An SQL statement and its parameters (`?` placeholders). */
interface Statement {
  sql: string;
  params: unknown[];
}

type SavedRow = { message: CqrsMessage; data: Record<string, unknown> };

const savedRows = (replica: ReplicaTarget, saving: CqrsMessage[]): SavedRow[] =>
  saving.map((message) => ({ message, data: { ...mapFields(message.state!, replica), ...keyOf(replica, message) } }));

/**
 * Writes the states of `saving` (messages the guard let through, one per row) to the replica's
 * table. By default in one SQL statement per set of columns the messages carry (usually one):
 * `INSERT ... SELECT FROM jsonb_populate_recordset(null::table, $1) ON CONFLICT (key) DO UPDATE`
 * of the mapped columns only, so that PostgreSQL reads each value from the message's text
 * (microseconds, numeric digits, bytea, arrays, json) and columns the message does not map keep
 * their value, or their default on insert. A replica with onCqrsCreate / onCqrsUpdate, lifecycle
 * hooks, onCreate / onUpdate values or a version property is written through its MikroORM
 * entities instead, as are messages that map a property stored in several columns (or none);
 * values then pass through MikroORM's types (a Date keeps milliseconds).
 */
export async function saveRows(tx: EntityManager, session: SqlSession, replica: ReplicaTarget, saving: CqrsMessage[]): Promise<void> {
  if (saving.length === 0) return;
  const rows = savedRows(replica, saving);
  const statements = await saveStatements(session, replica, rows);
  if (!statements) return saveEntities(tx, session, replica, rows);
  for (const { sql, params } of statements) await session.run(sql, params);
}

// The statements of saveRows' SQL path, or undefined when the rows go through MikroORM entities.
async function saveStatements(session: SqlSession, replica: ReplicaTarget, rows: SavedRow[]): Promise<Statement[] | undefined> {
  const unmapped = rows.some(({ data }) => Object.entries(data).some(([property, value]) => value !== undefined && !replica.columns.has(property)));
  if (rows.length && (replica.entityWrites.length || unmapped)) return undefined;
  // only messages that lack a required property need to know whether their row exists
  const lacking = rows.map(({ data }, i) => ({ i, missing: replica.required.filter((property) => data[property] === undefined) }))
    .filter(({ missing }) => missing.length);
  if (lacking.length) {
    const existing = await existingRows(session, replica, lacking.map(({ i }) => rows[i]!.message));
    const created = lacking.find((_, n) => !existing.has(n));
    if (created) throw CqrsError.fieldMissing(rows[created.i]!.message.id, replica.entity, created.missing);
  }
  const byColumns = new Map<string, Record<string, unknown>[]>();
  for (const { data } of rows) {
    const record: Record<string, unknown> = {};
    for (const [property, value] of Object.entries(data)) if (value !== undefined) record[replica.columns.get(property)!] = value;
    const columns = Object.keys(record).sort().join('\u0000');
    const group = byColumns.get(columns);
    if (group) group.push(record);
    else byColumns.set(columns, [record]);
  }
  const keys = new Set(replica.keyColumns);
  return [...byColumns].map(([names, records]) => {
    const columns = names.split('\u0000');
    const list = columns.map(ident).join(', ');
    const updates = columns.filter((column) => !keys.has(column)).map((column) => `${ident(column)} = excluded.${ident(column)}`);
    return {
      sql: `INSERT INTO ${replica.qualified} (${list}) SELECT ${list} FROM jsonb_populate_recordset(null::${replica.qualified}, ?::jsonb) ` +
        `ON CONFLICT (${replica.keyColumns.map(ident).join(', ')}) DO ${updates.length ? `UPDATE SET ${updates.join(', ')}` : 'NOTHING'}`,
      params: [JSON.stringify(records)],
    };
  });
}

// The unit-of-work path: one query finds the rows that exist, one loads them (the findOne calls
// are then answered from the identity map), one flush writes them all.
async function saveEntities(tx: EntityManager, session: SqlSession, replica: ReplicaTarget, rows: SavedRow[]): Promise<void> {
  const existing = await existingRows(session, replica, rows.map(({ message }) => message));
  if (existing.size) await tx.find(replica.entity as never, keyFilter(replica, rows.filter((_, i) => existing.has(i)).map(({ message }) => keyOf(replica, message))) as never);
  const { handlers } = replica;
  for (const [i, { message, data }] of rows.entries()) {
    const entity = existing.has(i) ? await tx.findOne(replica.entity as never, keyOf(replica, message) as never) : null;
    if (!entity) {
      const missing = replica.required.filter((property) => data[property] === undefined);
      if (missing.length) throw CqrsError.fieldMissing(message.id, replica.entity, missing);
    }
    if (entity && handlers.onCqrsUpdate) await handlers.onCqrsUpdate(data, message, tx);
    else if (!entity && handlers.onCqrsCreate) await handlers.onCqrsCreate(data, message, tx);
    else if (entity) tx.assign(entity, data);
    else tx.create(replica.entity as never, data as never);
  }
  await tx.flush();
  tx.clear();
}

function keyFilter(replica: ReplicaTarget, keys: Record<string, unknown>[]): object {
  if (replica.keyProperties.length === 1) {
    const [property] = replica.keyProperties;
    return { [property!]: { $in: keys.map((key) => key[property!]) } };
  }
  return { $or: keys };
}

/** Deletes the rows of `deleting` (one statement), or hands each to the replica's onCqrsDelete. */
export async function deleteRows(tx: EntityManager, session: SqlSession, replica: ReplicaTarget, deleting: CqrsMessage[]): Promise<void> {
  if (deleting.length === 0) return;
  if (replica.handlers.onCqrsDelete) {
    for (const message of deleting) await replica.handlers.onCqrsDelete(keyOf(replica, message), message, tx);
    await tx.flush();
    tx.clear();
    return;
  }
  const { sql, params } = deleteStatement(replica, deleting);
  await session.run(sql, params);
}

const deleteStatement = (replica: ReplicaTarget, deleting: CqrsMessage[]): Statement => ({
  sql: `DELETE FROM ${replica.qualified} t USING jsonb_populate_recordset(null::${replica.qualified}, ?::jsonb) p WHERE ${joinOn('t', 'p', replica.keyColumns)}`,
  params: [keyRecords(replica, deleting)],
});

/** Records the revisions (and tombstones) of the applied messages, in one statement. */
export async function recordRevisions(session: SqlSession, replica: ReplicaTarget, applying: CqrsMessage[]): Promise<void> {
  if (applying.length === 0) return;
  const { sql, params } = revisionStatement(replica, applying);
  await session.run(sql, params);
}

const revisionStatement = (replica: ReplicaTarget, applying: CqrsMessage[]): Statement => ({
  sql: `UPDATE ${replica.stateTable} s SET revision = (e.value->>'revision')::bigint, deleted = (e.value->>'deleted')::boolean ` +
    `FROM jsonb_array_elements(?::jsonb) e WHERE s.cqrs_id = ? AND s.key = e.value->'key'`,
  params: [JSON.stringify(applying.map((message) => ({ key: message.key, revision: message.revision, deleted: message.state === null }))), replica.cqrsId],
});

/**
 * Saves and deletes the rows of one replica's `applying` messages (saveRows, deleteRows) and
 * records their revisions. When all of it is SQL (no MikroORM entity writes, no onCqrsDelete), it
 * is one statement of data-modifying WITH queries, one round trip: they touch disjoint rows, and
 * its foreign keys are checked at its end, on the rows the separate statements would have left.
 */
export async function writeRows(tx: EntityManager, session: SqlSession, replica: ReplicaTarget, applying: CqrsMessage[]): Promise<void> {
  const saving = applying.filter((message) => message.state !== null);
  const deleting = applying.filter((message) => message.state === null);
  const rows = savedRows(replica, saving);
  const saves = await saveStatements(session, replica, rows);
  if (!saves || (deleting.length && replica.handlers.onCqrsDelete)) {
    if (saves) for (const { sql, params } of saves) await session.run(sql, params);
    else await saveEntities(tx, session, replica, rows);
    await deleteRows(tx, session, replica, deleting);
    await recordRevisions(session, replica, applying);
    return;
  }
  const statements = [...saves, ...(deleting.length ? [deleteStatement(replica, deleting)] : [])];
  if (applying.length) statements.push(revisionStatement(replica, applying));
  const last = statements.pop();
  if (!last) return;
  await session.run(`${statements.map(({ sql }, i) => `${i ? ', ' : 'WITH '}w${i} AS (${sql}) `).join('')}${last.sql}`,
    [...statements.flatMap(({ params }) => params), ...last.params]);
}

/**
 * Applies a batch of messages of one replica in the transaction `tx` is in, with
 * ReplicaApplier's semantics, set-based: the guard's statement, then the saves, the deletes
 * and the new revisions (see writeRows). Resolves to the revision guard's verdict for each message.
 */
export async function applyBatch(tx: EntityManager, session: SqlSession, replica: ReplicaTarget, batch: CqrsMessage[]): Promise<RevisionVerdict[]> {
  const { verdicts, applying } = await judgeBatch(session, replica, batch);
  await writeRows(tx, session, replica, applying);
  return verdicts;
}
