import { SchemaError, type FieldChange, type ModelPullReport, type PulledRow } from '@entity-sync/core';
import { advanceSequence } from '../../internal/pg/sequence-position.js';
import { ident, type SqlSession } from '../../internal/pg/sql-session.js';
import { differingKeysInto } from '../../internal/pg/table-compare.js';
import type { NaturalKeySql } from './sync-model-plan.js';
import type { SyncStage } from './sync-stage.js';

type Row = Record<string, string | null>;

const keyOf = (row: Row, stage: SyncStage): PulledRow => ({ key: stage.plan.naturalKey.map((_, i) => row[`k${i}`] ?? null) });

/**
 * Inserts the staged rows the target lacks (no `id0` yet), with the `deferred` references left NULL
 * (set by `update`). When the inserted rows need no second look (no reference left NULL, no BEFORE
 * INSERT trigger, see `SyncStage.insertsAsStaged`), they stay as they are in the stage, known as
 * new by their missing `id0`. Otherwise they are marked `_new` with their new ids: drawn from the
 * key's sequence first when it allows (see `SyncStage.drawnKey`), so that no RETURNING has to be
 * matched back to the stage and a BEFORE INSERT trigger that changes a natural key does not lose
 * the row, else as `SyncStage.insertAndMark` finds them. A row that cannot be found again is
 * `ENV_SYNC_INSERT_LOST`. A column a sequence feeds that got the source's values (a key that
 * travels, such as an invoice number) has its sequence moved past them, unless `dryRun`: else the
 * app's next insert would draw a key the pull took.
 */
export async function insertNew(session: SqlSession, stage: SyncStage, keys: NaturalKeySql, deferred: Set<string>, dryRun: boolean): Promise<void> {
  const { plan } = stage;
  const columns: string[] = [];
  const values: string[] = [];
  for (const column of plan.columns) {
    columns.push(ident(column.name));
    values.push(`${stage.value(column)}::${column.type}`);
  }
  for (const fk of plan.references) {
    const late = deferred.has(fk.name);
    if (late && fk.columns.some((column) => !column.nullable) && !fk.deferrable) throw SchemaError.cycleUnbreakable([fk.child.entity, fk.parent.entity]);
    fk.columns.forEach((column, i) => {
      columns.push(ident(column.name));
      values.push(late ? 'NULL' : `${stage.resolved(fk)[i]}::${column.type}`);
    });
  }
  const drawn = stage.insertsAsStaged(deferred) ? undefined : stage.drawnKey();
  const overriding = (drawn ? [drawn, ...plan.columns] : plan.columns).some((column) => column.identity === 'always') ? ' OVERRIDING SYSTEM VALUE' : '';
  if (stage.insertsAsStaged(deferred)) {
    await session.run(`INSERT INTO ${plan.table.qualified} (${columns.join(', ')})${overriding} SELECT ${values.join(', ')} FROM ${stage.name} s WHERE s.id0 IS NULL`);
    stage.leftNewUnmarked();
  } else if (drawn) {
    await stage.drawIds(drawn);
    await session.run(`INSERT INTO ${plan.table.qualified} (${[ident(drawn.name), ...columns].join(', ')})${overriding} ` +
      `SELECT ${[`s.id0::${drawn.type}`, ...values].join(', ')} FROM ${stage.name} s WHERE s._new`);
    if (plan.table.catalog.beforeInsertTriggers.length) await stage.checkInserted(true);
  } else {
    await stage.insertAndMark(keys, deferred, `INSERT INTO ${plan.table.qualified} (${columns.join(', ')})${overriding} ` +
      `SELECT ${values.join(', ')} FROM ${stage.name} s WHERE s.id0 IS NULL`);
  }
  if (!dryRun) for (const column of plan.columns) if (column.sequence && column.integer) await advanceSequence(session, plan.table, column);
}

// the target's and the stage's text of every column the pull writes: value columns and foreign keys
function comparisons(stage: SyncStage): { field: string; target: string; staged: string }[] {
  const { plan } = stage;
  return [
    ...plan.columns.map((column) => ({ field: column.name, target: `t.${ident(column.name)}::text`, staged: stage.value(column) })),
    ...plan.references.flatMap((fk) => fk.columns.map((column, i) => ({ field: column.name, target: `t.${ident(column.name)}::text`, staged: stage.resolved(fk)[i]! }))),
  ];
}

/**
 * Marks `_changed` the staged rows that differ from their target row, as the diff engine finds
 * them: the stage and the target rows it found as the target's primary key (as text) and the
 * compared columns' texts, joined by one query, the keys that differ kept in the database. A row
 * this pull inserted holds every staged value already unless a reference of it was left NULL or a
 * trigger changed it: when neither, it has no id in the stage (see `SyncStage.insertsAsStaged`)
 * and is not compared.
 */
async function markChanged(session: SqlSession, stage: SyncStage, compared: ReturnType<typeof comparisons>): Promise<void> {
  const { plan } = stage;
  const ids = plan.table.primaryKey.map((_, i) => `id${i}`);
  const values = (side: 'staged' | 'target') => compared.map((c, i) => `, ${c[side]} AS v${i}`).join('');
  const differing = `${stage.name}_differing`;
  // a stage's natural keys are unique and each found its own target row; of the target, only the rows the stage found (by its key's index)
  const found = await differingKeysInto(session, [
    `SELECT ${ids.join(', ')}${values('staged')} FROM ${stage.name} s`,
    `SELECT ${plan.table.primaryKey.map((column, i) => `t.${ident(column.name)}::text AS id${i}`).join(', ')}${values('target')} ` +
      `FROM ${stage.name} s JOIN ${plan.table.qualified} t ON ${stage.matchTarget('t', 's')}`,
  ], ids, compared.map((_, i) => `v${i}`), differing);
  if (found) {
    await session.run(`UPDATE ${stage.name} s SET _changed = true WHERE (${ids.map((id) => `s.${id}`).join(', ')}) IN ` +
      `(SELECT ${ids.map((_, i) => `k${i}`).join(', ')} FROM ${differing})`);
  }
}

/**
 * Marks the staged rows that differ from their target row, lists the first `limit` of the existing
 * ones with each changed field (old and new), then updates exactly those rows: an unchanged row
 * gets no UPDATE, so no trigger fires for it.
 */
export async function updateChanged(session: SqlSession, stage: SyncStage, limit: number, report: ModelPullReport): Promise<void> {
  const { plan } = stage;
  const compared = comparisons(stage);
  const isNew = stage.isNew('s');
  await markChanged(session, stage, compared);
  const [counts] = await session.query<{ updated: string; unchanged: string; created: string; changed: string }>(
    `SELECT count(*) FILTER (WHERE _changed AND NOT (${isNew}))::text AS updated, count(*) FILTER (WHERE NOT _changed AND NOT (${isNew}))::text AS unchanged, ` +
    `count(*) FILTER (WHERE ${isNew})::text AS created, count(*) FILTER (WHERE _changed)::text AS changed FROM ${stage.name} s`);
  report.updated = Number(counts!.updated);
  report.unchanged = Number(counts!.unchanged);
  report.created = Number(counts!.created);
  const created = await session.query<Row>(`SELECT ${stage.keyColumns().join(', ')} FROM ${stage.name} s WHERE ${isNew} ORDER BY ${stage.keyColumns().join(', ')} LIMIT ${limit}`);
  report.rows.created = created.map((row) => keyOf(row, stage));
  const selected = compared.flatMap((c, i) => [`${c.target} AS o${i}`, `${c.staged} AS n${i}`]);
  const updated = await session.query<Row>(`SELECT ${stage.keyColumns('s').join(', ')}, ${selected.join(', ')} FROM ${stage.name} s ` +
    `JOIN ${plan.table.qualified} t ON ${stage.matchTarget('t', 's')} WHERE s._changed AND NOT (${isNew}) ORDER BY ${stage.keyColumns('s').join(', ')} LIMIT ${limit}`);
  report.rows.updated = updated.map((row) => ({
    ...keyOf(row, stage),
    changes: compared.flatMap((c, i): FieldChange[] => (row[`o${i}`] ?? null) === (row[`n${i}`] ?? null) ? [] : [{ field: c.field, old: row[`o${i}`] ?? null, new: row[`n${i}`] ?? null }]),
  }));
  report.truncated ||= report.created > limit || report.updated > limit;
  const sets = [
    ...plan.columns.map((column) => `${ident(column.name)} = ${stage.value(column)}::${column.type}`),
    ...plan.references.flatMap((fk) => fk.columns.map((column, i) => `${ident(column.name)} = ${stage.resolved(fk)[i]}::${column.type}`)),
  ];
  if (sets.length && Number(counts!.changed)) {
    await session.run(`UPDATE ${plan.table.qualified} t SET ${sets.join(', ')} FROM ${stage.name} s WHERE s._changed AND ${stage.matchTarget('t', 's')}`);
  }
}
