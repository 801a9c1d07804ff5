import { EntitySyncError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../compat.js';
import { EntitySync } from '../entity-sync.js';
import { arrayLiteral, ident, literal, SqlSession } from '../graph/sql-session.js';
import { TableCatalog } from '../graph/table-catalog.js';

/** Throws `CQRS_NOT_INSTALLED` naming what to run when one of `tables` does not exist in the ORM's schema. */
async function requireTables(session: SqlSession, schema: string, tables: string[], install: string): Promise<void> {
  const [row] = await session.query<{ missing: string[] }>(
    `SELECT array_agg(t) FILTER (WHERE to_regclass(${literal(schema)} || '.' || t) IS NULL) AS missing FROM unnest(?::text[]) t`,
    [`{${tables.join(',')}}`]);
  if (row?.missing?.length) {
    throw new EntitySyncError('CQRS_NOT_INSTALLED',
      `${row.missing.join(', ')} does not exist in schema '${schema}': run \`${install}\` first (a deploy step, like a migration).`,
      { info: { schema, missing: row.missing } });
  }
}

/**
 * Checks, before a relay starts, that `cqrs install` ran on the master, and that the outbox holds
 * no entries of CQRS ids this ORM does not publish (a renamed or removed `@Master`): this relay
 * would leave them unsent for ever.
 */
export async function checkMasterInstalled(em: EntityManager, cqrsIds: string[]): Promise<void> {
  await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    await requireTables(session, schema, ['entity_sync_outbox', 'entity_sync_revision'], 'entity-sync cqrs install (or installOutbox(em))');
    const unknown = await session.query<{ cqrs_id: string; entries: number }>(
      `SELECT cqrs_id, count(*)::int AS entries FROM ${ident(schema)}.entity_sync_outbox WHERE cqrs_id <> ALL(?::text[]) GROUP BY cqrs_id ORDER BY cqrs_id`,
      [arrayLiteral(cqrsIds)]);
    if (unknown.length) {
      const listed = unknown.map((row) => `'${row.cqrs_id}' (${row.entries})`).join(', ');
      throw new EntitySyncError('CQRS_UNKNOWN_ID',
        `The outbox holds entries of ${listed}, which no @Master of this ORM declares (it declares ${cqrsIds.join(', ') || 'none'}). ` +
        'Run the relay with the entities that declare them; if an entity was renamed or removed, drop its capture trigger and ' +
        `delete those entries (DELETE FROM ${schema}.entity_sync_outbox WHERE cqrs_id = '...').`,
        { info: { schema, unknown: unknown.map((row) => row.cqrs_id) } });
    }
  });
}

/**
 * Checks, before a consumer starts, that `cqrs install` ran on the replica and that every column the
 * ORM maps for a `@Replica` entity exists in its table: a missing one would otherwise dead-letter
 * every message that reaches it.
 */
export async function checkReplicaSchema(em: EntityManager): Promise<void> {
  const sync = EntitySync.forEntityManager(em);
  await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    await requireTables(session, schema, ['entity_sync_replica_state'], 'entity-sync cqrs install (or installReplica(em))');
    // only the replicas' own tables: other entities of the ORM are none of the consumer's business
    const replicas = [...sync.graph.nodes.values()].filter((node) => sync.registryEntry(node.name)?.replica && !node.inheritance);
    const catalog = await TableCatalog.load(session, schema, replicas.map((node) => node.schema).filter((name): name is string => !!name && name !== '*'));
    const missing: string[] = [];
    for (const node of replicas) {
      const table = catalog.table(node.table, node.schema && node.schema !== '*' ? node.schema : schema);
      if (!table) {
        missing.push(`${node.name} (table ${node.table})`);
        continue;
      }
      const columns = new Set(table.columns.map((column) => column.name));
      for (const column of node.columns) if (!columns.has(column.name)) missing.push(`${node.name}.${column.property} (column ${node.table}.${column.name})`);
    }
    if (missing.length) {
      throw new EntitySyncError('CQRS_SCHEMA_MISMATCH',
        `The replica's tables lack what its entities map: ${missing.join(', ')}. Run the replica's migrations before consuming.`,
        { info: { missing } });
    }
  });
}
