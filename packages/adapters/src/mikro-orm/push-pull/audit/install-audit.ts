import { createHash } from 'node:crypto';
import { OptionError, type AuditOptions } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { EntitySync } from '../../extension/entity-sync.js';
import { ident, literal, SqlSession } from '../../../internal/pg/sql-session.js';
import { TableGraph, type TableNode } from '../../../internal/pg/table-graph.js';
import { PUSH_CLIENT_SETTING } from '../row-versions.js';
import { AUDIT_ACTOR_SETTING, AUDIT_MODEL_TABLE, AUDIT_TABLE, auditTablesSql, columnList } from './audit-tables.js';

/** Options of `installAudit`. */
export interface InstallAuditOptions {
  /**
   * Entities to audit besides those marked `@SyncModel({ audit })`: names, or names with their
   * audit options (`{ User: { exclude: ['passwordHash'] } }`).
   */
  models?: string[] | Record<string, true | AuditOptions>;
}

const TRIGGER = 'entity_sync_audit';

// The capture: AFTER statement triggers write the entries of a statement's rows in one insert, from
// its transition tables, in the change's transaction (a rollback takes them back), for changes
// through the unit of work, nativeUpdate and raw SQL alike. An update records only the columns
// whose values changed, and nothing when none did: each column of the old row is compared with the
// new one by its type (by its text for types without equality), which costs a 1,000-row update about
// half what comparing their JSON documents key by key does. Excluded columns are taken out of the
// documents and never compared, so that they are never written and a change of theirs alone records
// nothing. An update that gives a row another key is recorded as a delete where it was and a create
// where it is (the old and the new rows are matched by key).
const auditFunction = (schema: string, name: string, model: string, table: TableNode, excluded: string[]) => {
  const key = (row: string) => `jsonb_build_array(${table.primaryKey.map((column) => `${row}.${ident(column.name)}`).join(', ')})`;
  const compared = table.allColumns.filter((column) => !excluded.includes(column.name));
  const same = (column: { name: string; type: string }) => {
    const value = (row: string) => `${row}.${ident(column.name)}${WITHOUT_EQUALITY.test(column.type) ? '::text' : ''}`;
    return `CASE WHEN ${value('o')} IS NOT DISTINCT FROM ${value('n')} THEN ${literal(column.name)} END`;
  };
  // the columns left out of an update's documents: the excluded ones, and those it did not change
  const unchanged = `${columnList(excluded)} || array_remove(ARRAY[${compared.map(same).join(', ') || 'NULL'}]::text[], NULL)`;
  const drop = columnList(excluded);
  const insert = `INSERT INTO ${schema}.${AUDIT_TABLE} (model, key, operation, actor, client, old, new)`;
  const matched = table.primaryKey.map((column) => `o.${ident(column.name)} = n.${ident(column.name)}`).join(' AND ');
  const first = ident(table.primaryKey[0]!.name);
  return `
CREATE OR REPLACE FUNCTION ${schema}.${name}() RETURNS trigger LANGUAGE plpgsql SET search_path = ${schema}, pg_catalog AS $$
DECLARE
  who text := nullif(current_setting('${AUDIT_ACTOR_SETTING}', true), '');
  via text := nullif(current_setting('${PUSH_CLIENT_SETTING}', true), '');
BEGIN
  IF TG_OP = 'UPDATE' THEN
    ${insert}
    SELECT ${literal(model)}, CASE WHEN o.${first} IS NULL THEN ${key('n')} ELSE ${key('o')} END,
      CASE WHEN n.${first} IS NULL THEN 'delete' WHEN o.${first} IS NULL THEN 'create' ELSE 'update' END, who, via,
      CASE WHEN o.${first} IS NOT NULL THEN to_jsonb(o) - coalesce(u.columns, ${drop}) END,
      CASE WHEN n.${first} IS NOT NULL THEN to_jsonb(n) - coalesce(u.columns, ${drop}) END
    FROM entity_sync_old o FULL JOIN entity_sync_new n ON ${matched}
    LEFT JOIN LATERAL (SELECT ${unchanged} AS columns) u ON o.${first} IS NOT NULL AND n.${first} IS NOT NULL
    WHERE o.${first} IS NULL OR n.${first} IS NULL OR cardinality(u.columns) < ${excluded.length + compared.length};
  ELSIF TG_OP = 'INSERT' THEN
    ${insert} SELECT ${literal(model)}, ${key('n')}, 'create', who, via, NULL, to_jsonb(n) - ${drop} FROM entity_sync_new n;
  ELSE
    ${insert} SELECT ${literal(model)}, ${key('o')}, 'delete', who, via, to_jsonb(o) - ${drop}, NULL FROM entity_sync_old o;
  END IF;
  RETURN NULL;
END $$`;
};

// types whose values have no equality operator (or one that compares something else: a box's area)
const WITHOUT_EQUALITY = /^(json|xml|point|line|lseg|path|polygon|box|circle)(\[\])*$/;

// a trigger with transition tables serves one event
const TRIGGERS = [
  ['insert', 'INSERT', 'NEW TABLE AS entity_sync_new'],
  ['update', 'UPDATE', 'OLD TABLE AS entity_sync_old NEW TABLE AS entity_sync_new'],
  ['delete', 'DELETE', 'OLD TABLE AS entity_sync_old'],
] as const;

/** The name of a table's audit function. */
const auditFunctionName = (qualified: string) => `entity_sync_audit_${createHash('sha1').update(qualified).digest('hex').slice(0, 12)}`;

const dropTriggers = async (session: SqlSession, table: string) => {
  for (const [suffix] of TRIGGERS) await session.run(`DROP TRIGGER IF EXISTS ${TRIGGER}_${suffix} ON ${table}`);
};

/** The entities to audit and their options: the `@SyncModel({ audit })` ones, then `models`. */
function auditedEntities(sync: EntitySync, models: InstallAuditOptions['models']): Map<string, AuditOptions> {
  const chosen = new Map<string, AuditOptions>();
  for (const node of sync.graph.nodes.values()) {
    const audit = sync.registryEntry(node.name)?.syncModel?.audit;
    if (!node.pivot && audit) chosen.set(node.name, audit === true ? {} : audit);
  }
  const named: [string, true | AuditOptions][] = Array.isArray(models) ? models.map((name) => [name, true]) : Object.entries(models ?? {});
  for (const [name, options] of named) {
    if (!sync.graph.nodes.has(name)) {
      throw OptionError.invalid('installAudit', 'models', name, `an entity of this ORM (${[...sync.graph.nodes.keys()].join(', ')})`);
    }
    chosen.set(name, options === true ? chosen.get(name) ?? {} : options);
  }
  return chosen;
}

/**
 * Installs the audit trail (idempotent: run it at deploy time, like a migration): the audit tables,
 * and on the table of every audited entity (`@SyncModel({ audit })`, and `models`) triggers that
 * record each change of a row in the same transaction: who (`setAuditActor`, or the sync API's user), when,
 * the operation, the row's key, and only the changed columns' old and new values. Columns
 * `@SyncModel({ exclude })` or `audit.exclude` names are never recorded. A model audited before and
 * no longer is stops being recorded (its entries stay). Returns the models audited.
 *
 * @example
 * ```ts
 * await installAudit(orm.em.fork(), { models: { User: { exclude: ['passwordHash'] } } });
 * ```
 */
export async function installAudit(em: EntityManager, options: InstallAuditOptions = {}): Promise<string[]> {
  checkEntityManager('installAudit', em, "installAudit(orm.em.fork(), { models: ['Todo'] })");
  return inTransaction(em, async (tx) => {
    const sync = EntitySync.forEntityManager(tx);
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    for (const statement of auditTablesSql(schema)) await session.run(statement);
    const tables = await TableGraph.load(session, sync.graph, schema, (entity) => sync.registryEntry(entity));
    const s = ident(schema);
    const entities = auditedEntities(sync, options.models);
    const before = await session.query<{ model: string; table_name: string }>(`SELECT model, table_name FROM ${s}.${AUDIT_MODEL_TABLE}`);
    const installed: string[] = [];
    for (const [name, audit] of entities) {
      const node = sync.graph.node(name);
      const table = tables.keyedTable(name);
      for (const property of audit.exclude ?? []) {
        if (!node.columns.some((column) => column.property === property)) {
          throw OptionError.invalid('installAudit', `${name}.exclude`, property, `a property of ${name} (${[...new Set(node.columns.map((column) => column.property))].join(', ')})`);
        }
      }
      const excludedProperties = new Set(audit.exclude ?? []);
      const excluded = table.allColumns.map((column) => column.name)
        .filter((column) => table.excluded.has(column) || node.columns.some((graphColumn) => graphColumn.name === column && excludedProperties.has(graphColumn.property)));
      // a property of one column is named by it; the columns of a composite reference keep their own names
      const properties = Object.fromEntries(node.columns.filter((column) => node.columns.filter((other) => other.property === column.property).length === 1)
        .map((column) => [column.name, column.property]));
      const fn = auditFunctionName(table.qualified);
      await session.run(auditFunction(s, fn, name, table, excluded));
      await dropTriggers(session, table.qualified);
      for (const [suffix, event, transitions] of TRIGGERS) {
        await session.run(`CREATE TRIGGER ${TRIGGER}_${suffix} AFTER ${event} ON ${table.qualified} REFERENCING ${transitions} ` +
          `FOR EACH STATEMENT EXECUTE FUNCTION ${s}.${fn}()`);
      }
      await session.run(`INSERT INTO ${s}.${AUDIT_MODEL_TABLE} (model, table_name, key_columns, key_types, excluded, properties, retain_days, keep) ` +
        'VALUES (?, ?, ?, ?, ?, ?::jsonb, ?, ?) ON CONFLICT (model) DO UPDATE SET table_name = EXCLUDED.table_name, key_columns = EXCLUDED.key_columns, key_types = EXCLUDED.key_types, ' +
        'excluded = EXCLUDED.excluded, properties = EXCLUDED.properties, retain_days = EXCLUDED.retain_days, keep = EXCLUDED.keep',
      [name, table.qualified, table.primaryKey.map((column) => column.name), table.primaryKey.map((column) => column.type), excluded, JSON.stringify(properties), audit.retention?.days ?? null, audit.retention?.keep ?? null]);
      installed.push(name);
    }
    for (const gone of before.filter((row) => !entities.has(row.model))) {
      if (await session.tableExists(gone.table_name) && !installed.some((name) => tables.keyedTable(name).qualified === gone.table_name)) {
        await dropTriggers(session, gone.table_name);
      }
      await session.run(`DELETE FROM ${s}.${AUDIT_MODEL_TABLE} WHERE model = ?`, [gone.model]);
    }
    return installed.sort();
  });
}
