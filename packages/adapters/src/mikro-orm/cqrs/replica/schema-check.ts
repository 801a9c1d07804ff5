import { CqrsError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { EntitySync } from '../../extension/entity-sync.js';
import { SqlSession } from '../../../internal/pg/sql-session.js';
import { TableCatalog } from '../../../internal/pg/table-catalog.js';
import { requireTables } from '../required-tables.js';

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
      throw CqrsError.replicaColumnsMissing(missing);
    }
  });
}
