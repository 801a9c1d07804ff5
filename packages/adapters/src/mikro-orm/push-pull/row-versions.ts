import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { ident, literal, SqlSession } from '../../internal/pg/sql-session.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import { permissionTablesSql } from './permissions.js';
import { syncLogTableSql } from './sync-log/sync-log-table.js';
import { syncStateTableSql } from './sync-state.js';
import { keyJson, servedModels, tenantText, type ServedModel } from './served-models.js';

/** The table where the capture keeps, per served row, the position of its last change (and whether that was a delete). */
export const ROW_VERSION_TABLE = 'entity_sync_row_version';

/** The setting a push sets to its client id for its transaction, so that the capture records which client made a change (`origin`). */
export const PUSH_CLIENT_SETTING = 'entity_sync.push_client';

/**
 * The channel the capture notifies at commit, once per transaction, model and tenant, with
 * `{"model": ..., "tenant": ...}` (tenant '' for a shared model): what tells live clients that a pull has something new.
 */
export const CHANGES_CHANNEL = 'entity_sync_push_pull';

/** The table of the push/pull API's own state: e.g. the transaction below which deletes may have been forgotten (`pruneTombstones`). */
export const PUSH_PULL_STATE_TABLE = 'entity_sync_push_pull_state';

const stateTableSql = `CREATE TABLE IF NOT EXISTS ${PUSH_PULL_STATE_TABLE} (name text PRIMARY KEY, value text NOT NULL)`;

/** The table of the pushes done, by client and mutation id, with the result each got: a replay answers the same and writes nothing. */
export const PUSH_LOG_TABLE = 'entity_sync_push';

// The capture: an AFTER row trigger on every served table stamps the row's entry with the id of
// the transaction that changed it (xid8) and a sequence number, in that transaction: a rolled-back
// change leaves no stamp, and writes that bypass the unit of work (nativeUpdate, raw SQL) are
// stamped too. A delete keeps the entry as a tombstone; a change of key or tenant is a delete
// where the row was. Entries are per tenant ('' for models every tenant shares).
const captureFunction = (schema: string, name: string, model: ServedModel) => {
  const upsert = (key: string, tenant: string, deleted: boolean) =>
    `INSERT INTO ${ROW_VERSION_TABLE} AS v (model, key, tenant, xid, seq, deleted, changed_at, origin) ` +
    `VALUES (${literal(model.name)}, ${key}, ${tenant}, pg_current_xact_id(), nextval('${ROW_VERSION_TABLE}_seq'), ${deleted}, clock_timestamp(), ` +
    `nullif(current_setting('${PUSH_CLIENT_SETTING}', true), '')) ` +
    'ON CONFLICT (model, key, tenant) DO UPDATE SET xid = EXCLUDED.xid, seq = EXCLUDED.seq, deleted = EXCLUDED.deleted, changed_at = EXCLUDED.changed_at, origin = EXCLUDED.origin;';
  // PostgreSQL sends one notification per distinct payload and transaction, at commit (none on rollback)
  const notify = (tenant: string) => `PERFORM pg_notify('${CHANGES_CHANNEL}', json_build_object('model', ${literal(model.name)}, 'tenant', ${tenant})::text);`;
  // an update that moves the row to another key or tenant leaves a tombstone where it was
  const moved = `${keyJson(model, 'OLD')} IS DISTINCT FROM ${keyJson(model, 'NEW')} OR ${tenantText(model, 'OLD')} IS DISTINCT FROM ${tenantText(model, 'NEW')}`;
  return `
CREATE OR REPLACE FUNCTION ${schema}.${name}() RETURNS trigger LANGUAGE plpgsql SET search_path = ${schema}, pg_catalog AS $$
BEGIN
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND (${moved})) THEN
    ${upsert(keyJson(model, 'OLD'), tenantText(model, 'OLD'), true)}
    ${notify(tenantText(model, 'OLD'))}
  END IF;
  IF TG_OP <> 'DELETE' THEN
    ${upsert(keyJson(model, 'NEW'), tenantText(model, 'NEW'), false)}
    ${notify(tenantText(model, 'NEW'))}
  END IF;
  RETURN NULL;
END $$`;
};

/** The name of a table's capture function. */
export const captureFunctionName = (qualified: string) => `entity_sync_version_${createHash('sha1').update(qualified).digest('hex').slice(0, 12)}`;

/** Options of `installPushPull`. */
export interface InstallPushPullOptions {
  /** The models to capture (entity names); default every `@SyncModel`. */
  models?: string[];
}

/**
 * Installs the change capture of the push/pull sync API (idempotent: run it at deploy time, like a
 * migration): the row-version table, the push log, the sync log, and a trigger on the table of every served model, and gives
 * the rows already there a version, so that a client's first pull gets them. Returns the models
 * installed.
 *
 * @example
 * ```ts
 * await installPushPull(orm.em.fork(), { models: ['Todo', 'Project'] });
 * ```
 */
export async function installPushPull(em: EntityManager, options: InstallPushPullOptions = {}): Promise<string[]> {
  checkEntityManager('installPushPull', em, "installPushPull(orm.em.fork(), { models: ['Todo'] })");
  return inTransaction(em, async (tx) => {
    const sync = EntitySync.forEntityManager(tx);
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    await session.run(`SET LOCAL search_path TO ${ident(schema)}`);
    await session.run(`CREATE SEQUENCE IF NOT EXISTS ${ROW_VERSION_TABLE}_seq`);
    await session.run(`CREATE TABLE IF NOT EXISTS ${ROW_VERSION_TABLE} (model text NOT NULL, key jsonb NOT NULL, tenant text NOT NULL, ` +
      'xid xid8 NOT NULL, seq bigint NOT NULL, deleted boolean NOT NULL, changed_at timestamptz NOT NULL, origin text, PRIMARY KEY (model, key, tenant))');
    await session.run(`CREATE INDEX IF NOT EXISTS ${ROW_VERSION_TABLE}_position ON ${ROW_VERSION_TABLE} (xid, seq)`);
    await session.run(`CREATE TABLE IF NOT EXISTS ${PUSH_LOG_TABLE} (client_id text NOT NULL, mutation_id text NOT NULL, result jsonb, ` +
      'pushed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (client_id, mutation_id))');
    for (const statement of [...permissionTablesSql(), stateTableSql, syncStateTableSql, ...syncLogTableSql(schema)]) await session.run(statement);
    const tables = await TableGraph.load(session, sync.graph, schema, (entity) => sync.registryEntry(entity));
    const installed: string[] = [];
    for (const model of servedModels(sync, tables, options.models)) {
      const fn = captureFunctionName(model.table.qualified);
      await session.run(captureFunction(ident(schema), fn, model));
      await session.run(`DROP TRIGGER IF EXISTS entity_sync_version ON ${model.table.qualified}`);
      await session.run(`CREATE TRIGGER entity_sync_version AFTER INSERT OR UPDATE OR DELETE ON ${model.table.qualified} ` +
        `FOR EACH ROW EXECUTE FUNCTION ${ident(schema)}.${fn}()`);
      await session.run(`INSERT INTO ${ROW_VERSION_TABLE} (model, key, tenant, xid, seq, deleted, changed_at) ` +
        `SELECT ${literal(model.name)}, ${keyJson(model, 't')}, ${tenantText(model, 't')}, pg_current_xact_id(), nextval('${ROW_VERSION_TABLE}_seq'), false, clock_timestamp() ` +
        `FROM ${model.table.qualified} t ON CONFLICT (model, key, tenant) DO NOTHING`);
      installed.push(model.name);
    }
    return installed;
  });
}
