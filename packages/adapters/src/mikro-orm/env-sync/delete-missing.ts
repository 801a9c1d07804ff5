import { EnvSyncError, type ModelPullReport } from '@entity-sync/core';
import { ident, type SqlSession } from '../../internal/pg/sql-session.js';
import type { NaturalKeySql } from './sync-model-plan.js';
import type { SyncStage } from './sync-stage.js';

const RULES: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

// Every foreign key of the database that points at `table`, with its ON DELETE rule, read from the catalog:
// tables no entity maps count too.
const REFERENCING = `
  select k.conname as name, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as child, c.relname as "childTable", n.nspname as "childSchema",
    k.confdeltype::text as rule,
    array(select a.attname::text from unnest(k.conkey) with ordinality u(attnum, ord) join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum order by u.ord) as columns,
    array(select a.attname::text from unnest(k.confkey) with ordinality u(attnum, ord) join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum order by u.ord) as referenced
  from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
  where k.contype = 'f' and k.confrelid = ?::regclass and k.conparentid = 0`;

const matchMissing = (stage: SyncStage) => stage.plan.table.primaryKey.map((key, i) => `t.${ident(key.name)} = m.p${i}::${key.type}`).join(' AND ');

interface Referencing { name: string; child: string; childTable: string; childSchema: string; rule: string; columns: string[]; referenced: string[] }

/** The target rows of a pulled model whose natural key the pull lacks, collected in a temporary table of their primary keys. */
export async function collectMissing(session: SqlSession, stage: SyncStage, keys: NaturalKeySql, limit: number, report: ModelPullReport): Promise<string> {
  const { plan } = stage;
  const missing = `${stage.name}_missing`;
  const view = keys.keyView(plan.name, plan.table.primaryKey);
  const on = plan.naturalKey.map((_, i) => `s.k${i} = v.k${i}`).join(' AND ');
  await session.run(`CREATE TEMP TABLE ${missing} ON COMMIT DROP AS SELECT v.* FROM (${view}) v ` +
    `WHERE NOT EXISTS (SELECT 1 FROM ${stage.name} s WHERE ${on})`);
  const keyColumns = plan.naturalKey.map((_, i) => `k${i}`);
  const rows = await session.query<Record<string, string | null>>(`SELECT ${keyColumns.join(', ')}, count(*) OVER ()::text AS total FROM ${missing} ORDER BY ${keyColumns.join(', ')} LIMIT ${limit}`);
  report.deleted = Number(rows[0]?.total ?? 0);
  report.rows.deleted = rows.map((row) => ({ key: keyColumns.map((column) => row[column] ?? null) }));
  report.truncated ||= report.deleted > limit;
  return missing;
}

/**
 * Refuses (`ENV_SYNC_DELETE_REFUSED`) when a row outside the pulled models refers to a row about to be
 * deleted, whatever the constraint's ON DELETE rule: a cascade or SET NULL would change it, a
 * restriction would block the delete.
 */
export async function checkOutsideEffects(session: SqlSession, stage: SyncStage, missing: string, pulledTables: Set<string>, deleted: number): Promise<void> {
  if (!deleted) return;
  const { table } = stage.plan;
  for (const fk of await session.query<Referencing>(REFERENCING, [`${ident(table.schema)}.${ident(table.table)}`])) {
    if (pulledTables.has(`${fk.childSchema}.${fk.childTable}`)) continue;
    const [found] = await session.query(`SELECT 1 FROM ${fk.child} c JOIN ${table.qualified} t ON ${fk.columns.map((column, i) => `c.${ident(column)} = t.${ident(fk.referenced[i]!)}`).join(' AND ')} ` +
      `JOIN ${missing} m ON ${matchMissing(stage)} LIMIT 1`);
    if (found) throw EnvSyncError.deleteReachesOutside(stage.plan.name, deleted, `${fk.childSchema}.${fk.childTable}`, fk.name, RULES[fk.rule] ?? fk.rule);
  }
}

/** Deletes the collected rows. */
export async function deleteMissing(session: SqlSession, stage: SyncStage, missing: string): Promise<void> {
  await session.run(`DELETE FROM ${stage.plan.table.qualified} t USING ${missing} m WHERE ${matchMissing(stage)}`);
}

