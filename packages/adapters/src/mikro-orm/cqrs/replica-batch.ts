import { EntitySyncError, judgeRevision, type CqrsMessage, type ReplicaOptions, type RevisionVerdict } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, entityClassOf, propertyNames, requiredProperties } from '../compat.js';
import { EntitySync } from '../entity-sync.js';
import { ident, literal, type SqlSession } from '../graph/sql-session.js';
import { mapFields, type ReplicaHandlers } from './replica-applier.js';

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
}

export function replicaTarget(tx: EntityManager, cqrsId: string): ReplicaTarget {
  const sync = EntitySync.forEntityManager(tx);
  const schema = defaultSchemaOf(tx);
  for (const node of sync.graph.nodes.values()) {
    const replica = sync.registryEntry(node.name)?.replica;
    if (replica?.cqrsId !== cqrsId) continue;
    return {
      cqrsId,
      entity: node.name,
      options: replica.options,
      qualified: `${ident(node.schema ?? schema)}.${ident(node.table)}`,
      keyProperties: node.primaryKeyProperties,
      keyColumns: node.primaryKey,
      properties: propertyNames(tx, node.name),
      stateTable: `${ident(schema)}.entity_sync_replica_state`,
    };
  }
  throw new EntitySyncError('CQRS_UNKNOWN_ID', `No @Replica('${cqrsId}') entity in this ORM. Run this on the replica service that declares it.`,
    { info: { cqrsId } });
}

function keyFilter(replica: ReplicaTarget, keys: Record<string, unknown>[]): object {
  if (replica.keyProperties.length === 1) {
    const [property] = replica.keyProperties;
    return { [property!]: { $in: keys.map((key) => key[property!]) } };
  }
  return { $or: keys };
}

/**
 * Applies a batch of messages of one replica in the transaction `tx` is in, with
 * ReplicaApplier's semantics, set-based: one statement locks and reads the stored revisions of
 * the whole batch, one finds the rows that exist, one flush writes them and one statement
 * records the new revisions. Resolves to the revision guard's verdict for each message.
 */
export async function applyBatch(tx: EntityManager, session: SqlSession, replica: ReplicaTarget, batch: CqrsMessage[]): Promise<RevisionVerdict[]> {
  // per key, the newest revision wins (a sync at an equal one), so that no statement touches a row twice
  const byKey = new Map<string, number[]>();
  batch.forEach((message, i) => {
    const key = JSON.stringify(message.key);
    byKey.set(key, [...(byKey.get(key) ?? []), i]);
  });
  const winners = [...byKey.values()].map((indexes) => indexes.reduce((best, i) => {
    const [a, b] = [batch[best]!, batch[i]!];
    return b.revision > a.revision || (b.revision === a.revision && b.operation === 'sync') ? i : best;
  }));
  const messages = winners.map((i) => batch[i]!);
  const keys = JSON.stringify(messages.map((message) => message.key));
  // placeholder rows to lock, as ReplicaApplier does, so that a concurrent consumer of a row waits
  await session.run(`INSERT INTO ${replica.stateTable} (cqrs_id, key, revision, deleted) ` +
    'SELECT ?, k.value, -1, false FROM jsonb_array_elements(?::jsonb) k ON CONFLICT DO NOTHING', [replica.cqrsId, keys]);
  const stored = await session.query<{ i: number; revision: string; deleted: boolean }>(
    `SELECT k.i::int AS i, s.revision::text AS revision, s.deleted FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS k(value, i) ` +
    `JOIN ${replica.stateTable} s ON s.cqrs_id = ? AND s.key = k.value FOR UPDATE OF s`, [keys, replica.cqrsId]);
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
    for (const i of indexes) {
      // the others are judged as if they came after the winner
      verdicts[i] = i === winner ? verdict : batch[i]!.revision === batch[winner]!.revision ? 'duplicate' : 'stale';
    }
    if (verdict === 'apply' || verdict === 'gap') applying.push(batch[winner]!);
  });
  if (applying.length === 0) return verdicts;

  const keyOf = (message: CqrsMessage) => Object.fromEntries(replica.keyProperties.map((property, i) => [property, message.key[i]]));
  const saving = applying.filter((message) => message.state !== null);
  const existing = new Set<number>();
  if (saving.length) {
    const found = await session.query<{ i: number }>(
      `SELECT k.i::int AS i FROM jsonb_array_elements(?::jsonb) WITH ORDINALITY AS k(value, i) ` +
      `WHERE EXISTS (SELECT 1 FROM ${replica.qualified} t, ${keyRecord(replica.qualified, 'k.value', replica.keyColumns)} p ` +
      `WHERE ${joinOn('t', 'p', replica.keyColumns)})`, [JSON.stringify(saving.map((message) => message.key))]);
    for (const row of found) existing.add(row.i - 1);
    // one query loads every existing row; the findOne calls below are then answered from the identity map
    if (existing.size) await tx.find(replica.entity, keyFilter(replica, saving.filter((_, i) => existing.has(i)).map(keyOf)) as never);
  }
  const handlers = entityClassOf(tx, replica.entity) as ReplicaHandlers | undefined;
  const required = requiredProperties(tx, replica.entity);
  for (const [i, message] of saving.entries()) {
    const key = keyOf(message);
    const data = { ...mapFields(message.state!, replica), ...key };
    const entity = existing.has(i) ? await tx.findOne(replica.entity, key as never) : null;
    if (!entity) {
      const missing = required.filter((property) => data[property] === undefined);
      if (missing.length) {
        throw new EntitySyncError('CQRS_FIELD_MISSING',
          `Message ${message.id} lacks ${missing.join(', ')}, which ${replica.entity} requires; nothing was applied. ` +
          'Publish the field from the master, give it a default on the replica, or map it with @Replica fields.',
          { info: { id: message.id, entity: replica.entity, missing } });
      }
    }
    if (entity && handlers?.onCqrsUpdate) await handlers.onCqrsUpdate(data, message, tx);
    else if (!entity && handlers?.onCqrsCreate) await handlers.onCqrsCreate(data, message, tx);
    else if (entity) tx.assign(entity, data);
    else tx.create(replica.entity, data as never);
  }
  await tx.flush();
  const deleting = applying.filter((message) => message.state === null);
  if (deleting.length && handlers?.onCqrsDelete) {
    for (const message of deleting) await handlers.onCqrsDelete(keyOf(message), message, tx);
    await tx.flush();
  } else if (deleting.length) {
    await tx.nativeDelete(replica.entity, keyFilter(replica, deleting.map(keyOf)) as never);
  }
  tx.clear();
  await session.run(`UPDATE ${replica.stateTable} s SET revision = (e.value->>'revision')::bigint, deleted = (e.value->>'deleted')::boolean ` +
    `FROM jsonb_array_elements(?::jsonb) e WHERE s.cqrs_id = ? AND s.key = e.value->'key'`,
  [JSON.stringify(applying.map((message) => ({ key: message.key, revision: message.revision, deleted: message.state === null }))), replica.cqrsId]);
  return verdicts;
}

