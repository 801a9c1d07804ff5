import { EntitySyncError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../compat.js';
import { EntitySync } from '../entity-sync.js';
import { ident, SqlSession } from '../graph/sql-session.js';
import { TableCatalog } from '../graph/table-catalog.js';
import { TableGraph } from '../graph/table-graph.js';

// The outbox is written by a trigger on every master table, in the transaction that changes the
// row: nothing can commit without its message, a rolled-back transaction or savepoint takes its
// message with it, and bulk writes that bypass the unit of work (nativeUpdate, insertMany, raw
// SQL) are captured too. Within one transaction a row keeps one outbox entry (its final state)
// and its revision grows once.
const captureFunction = (schema: string) => `
CREATE OR REPLACE FUNCTION ${schema}.entity_sync_capture() RETURNS trigger LANGUAGE plpgsql SET search_path = ${schema}, pg_catalog AS $$
DECLARE
  new_state jsonb := CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE to_jsonb(NEW) END;
  old_state jsonb := CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE to_jsonb(OLD) END;
  row_key jsonb;
  entry bigint;
  next_revision bigint;
BEGIN
  SELECT jsonb_agg(coalesce(new_state, old_state) -> c ORDER BY n) INTO row_key
    FROM unnest(string_to_array(TG_ARGV[1], ',')) WITH ORDINALITY AS k(c, n);
  SELECT id INTO entry FROM entity_sync_outbox WHERE tx = txid_current() AND cqrs_id = TG_ARGV[0] AND key = row_key;
  IF entry IS NOT NULL THEN
    UPDATE entity_sync_outbox SET operation = CASE WHEN new_state IS NULL THEN 'delete' ELSE 'save' END, state = new_state
      WHERE id = entry;
  ELSE
    INSERT INTO entity_sync_revision AS r (cqrs_id, key, revision) VALUES (TG_ARGV[0], row_key, 1)
      ON CONFLICT (cqrs_id, key) DO UPDATE SET revision = r.revision + 1
      RETURNING revision INTO next_revision;
    INSERT INTO entity_sync_outbox (tx, cqrs_id, key, operation, revision, state, previous)
      VALUES (txid_current(), TG_ARGV[0], row_key, CASE WHEN new_state IS NULL THEN 'delete' ELSE 'save' END, next_revision, new_state, old_state);
    -- a wake-up for relays, delivered at commit (repeats within a transaction are folded into one)
    PERFORM pg_notify('entity_sync_outbox', '');
  END IF;
  RETURN NULL;
END $$`;

/**
 * Creates the outbox and revision tables and a capture trigger on the table of every `@Master`
 * entity of the ORM (idempotent: run it at deploy time, like a migration).
 */
export async function installOutbox(em: EntityManager): Promise<string[]> {
  const sync = EntitySync.forEntityManager(em);
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    await session.run(`SET LOCAL search_path TO ${ident(schema)}`);
    await session.run(`CREATE TABLE IF NOT EXISTS entity_sync_revision (cqrs_id text NOT NULL, key jsonb NOT NULL, revision bigint NOT NULL, PRIMARY KEY (cqrs_id, key))`);
    await session.run(`CREATE TABLE IF NOT EXISTS entity_sync_outbox (id bigserial PRIMARY KEY, tx bigint NOT NULL, cqrs_id text NOT NULL, ` +
      `key jsonb NOT NULL, operation text NOT NULL, revision bigint NOT NULL, state jsonb, previous jsonb, ` +
      `created_at timestamptz NOT NULL DEFAULT clock_timestamp(), sent_at timestamptz)`);
    await session.run(`CREATE INDEX IF NOT EXISTS entity_sync_outbox_unsent ON entity_sync_outbox (id) WHERE sent_at IS NULL`);
    await session.run(`CREATE INDEX IF NOT EXISTS entity_sync_outbox_tx ON entity_sync_outbox (tx, cqrs_id)`);
    await session.run(captureFunction(ident(schema)));
    const tables = new TableGraph(sync.graph, await TableCatalog.load(session, schema));
    const installed: string[] = [];
    for (const name of sync.graph.nodes.keys()) {
      const master = sync.registryEntry(name)?.master;
      if (!master) continue;
      const table = tables.table(name);
      const keys = table.primaryKey.map((column) => column.name).join(',');
      if (keys.includes("'")) throw new EntitySyncError('MAPPING_UNSUPPORTED', `${name}: primary-key column names with quotes cannot be captured.`);
      await session.run(`DROP TRIGGER IF EXISTS entity_sync_capture ON ${table.qualified}`);
      await session.run(`CREATE TRIGGER entity_sync_capture AFTER INSERT OR UPDATE OR DELETE ON ${table.qualified} ` +
        `FOR EACH ROW EXECUTE FUNCTION ${ident(schema)}.entity_sync_capture('${master.cqrsId.replace(/'/g, "''")}', '${keys}')`);
      installed.push(master.cqrsId);
    }
    return installed;
  });
}
