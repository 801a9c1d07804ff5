import { asSyncFileRef, EnvSyncError, type SyncStreamModel, type SyncStreamRow } from '@entity-sync/core';
import { lineCopy } from '../../internal/pg/copy-text.js';
import { ident, type SqlSession } from '../../internal/pg/sql-session.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { ForeignKeyEdge } from '../../internal/pg/table-graph.js';
import type { NaturalKeySql, SyncModelPlan } from './sync-model-plan.js';

let stageCounter = 0;

/**
 * A model's pulled rows in a temporary table of text columns, where the pull decides with
 * set-based SQL: `k<i>` the natural key, `c<i>` the values (a file column holds the sha256 until
 * the file's target reference replaces it), `r<j>_<i>` the natural key each reference points at,
 * `f<j>_<i>` the target's foreign-key value it resolves to, `id<i>` the target row's primary key,
 * `_new` rows the pull inserts, `_changed` rows it updates.
 */
export class SyncStage {
  readonly name = `es_env_${++stageCounter}`;
  private readonly copy: ReturnType<typeof lineCopy>;
  private readonly position: number[];
  private readonly referenceWidth: number[];
  rows = 0;

  constructor(private readonly session: SqlSession, readonly plan: SyncModelPlan, source: SyncStreamModel, parentKeyLength: (model: string) => number, size: number) {
    const index = new Map(source.columns.map((column, i) => [column.name, i]));
    this.position = plan.columns.map((column) => index.get(column.name)!);
    this.referenceWidth = plan.references.map((fk) => parentKeyLength(fk.parent.entity));
    this.copy = lineCopy(session, this.name, size, this.loadedColumns());
  }

  private loadedColumns(): string[] {
    return [...this.plan.naturalKey.map((_, i) => `k${i}`), ...this.plan.columns.map((_, i) => `c${i}`),
      ...this.plan.references.flatMap((_, j) => this.referenceWidth[j] ? Array.from({ length: this.referenceWidth[j]! }, (__, i) => `r${j}_${i}`) : [])];
  }

  async create(): Promise<void> {
    const columns = [...this.loadedColumns(), ...this.plan.references.flatMap((fk, j) => fk.columns.map((_, i) => `f${j}_${i}`)),
      ...this.plan.table.primaryKey.map((_, i) => `id${i}`)];
    await this.session.run(`CREATE TEMP TABLE ${this.name} (${columns.map((column) => `${column} text`).join(', ')}, ` +
      '_new boolean NOT NULL DEFAULT false, _changed boolean NOT NULL DEFAULT false) ON COMMIT DROP');
  }

  /** Queues one row line (checked by the reader) for COPY; `line` names it in errors. */
  async add(row: SyncStreamRow, line: number): Promise<void> {
    const values = this.position.map((i) => {
      const cell = row.v[i] ?? null;
      return cell === null || typeof cell === 'string' ? cell : asSyncFileRef(cell)!.sha256;
    });
    const references = row.r.flatMap((key, j) => {
      const width = this.referenceWidth[j]!;
      if (key !== null && key.length !== width) {
        throw EnvSyncError.streamInvalid(`reference ${this.plan.references[j]!.name} of ${this.plan.name} holds ${key.length} key values, the target's key has ${width}`, line);
      }
      return key ?? Array.from({ length: width }, () => null);
    });
    await this.copy.add(...row.k, ...values, ...references);
    this.rows += 1;
  }

  /** Sends what is queued and indexes the natural key; throws when a key appears twice. */
  async finish(): Promise<void> {
    await this.copy.finish();
    const keys = this.keyColumns();
    const [duplicate] = await this.session.query<{ key: string }>(
      `SELECT json_build_array(${keys.join(', ')})::text AS key FROM ${this.name} GROUP BY ${keys.join(', ')} HAVING count(*) > 1 LIMIT 1`);
    if (duplicate) throw EnvSyncError.streamInvalid(`${this.plan.name} ${duplicate.key} appears more than once`);
    await this.session.run(`CREATE INDEX ON ${this.name} (${keys.join(', ')})`);
  }

  keyColumns(alias?: string): string[] {
    return this.plan.naturalKey.map((_, i) => `${alias ? `${alias}.` : ''}k${i}`);
  }

  /** `s.c<i>` of a value column. */
  value(column: CatalogColumn, alias = 's'): string {
    return `${alias}.c${this.plan.columns.indexOf(column)}`;
  }

  /** `s.f<j>_<i>`: the resolved foreign-key columns of a reference. */
  resolved(fk: ForeignKeyEdge, alias = 's'): string[] {
    const j = this.plan.references.indexOf(fk);
    return fk.columns.map((_, i) => `${alias}.f${j}_${i}`);
  }

  /** `s.r<j>_<i>`: the natural key a reference names. */
  named(fk: ForeignKeyEdge, alias = 's'): string[] {
    const j = this.plan.references.indexOf(fk);
    return Array.from({ length: this.referenceWidth[j]! }, (_, i) => `${alias}.r${j}_${i}`);
  }

  /** `s.id<i>`. */
  ids(alias = 's'): string[] {
    return this.plan.table.primaryKey.map((_, i) => `${alias}.id${i}`);
  }

  /** `t.pk = s.id::type AND ...`. */
  matchTarget(targetAlias = 't', alias = 's'): string {
    return this.plan.table.primaryKey.map((column, i) => `${targetAlias}.${ident(column.name)} = ${alias}.id${i}::${column.type}`).join(' AND ');
  }

  /** Sets `id<i>` (and the `also` assignments) of the staged rows (those matching `where`) found in the target by natural key. */
  async matchByNaturalKey(keys: NaturalKeySql, where = 'true', also: string[] = []): Promise<void> {
    const view = keys.keyView(this.plan.name, this.plan.table.primaryKey);
    const sets = [...this.plan.table.primaryKey.map((_, i) => `id${i} = v.p${i}`), ...also];
    const on = this.plan.naturalKey.map((_, i) => `v.k${i} = s.k${i}`).join(' AND ');
    await this.session.run(`UPDATE ${this.name} s SET ${sets.join(', ')} FROM (${view}) v WHERE ${on} AND ${where}`);
  }

  /** Resolves a reference to the target's foreign-key values by the natural key of the row it names. */
  async resolve(fk: ForeignKeyEdge, keys: NaturalKeySql): Promise<void> {
    const view = keys.keyView(fk.parent.entity, fk.referenced);
    const named = this.named(fk, '');
    const sets = this.resolved(fk, '').map((column, i) => `${column.slice(1)} = v.p${i}`);
    const on = named.map((column, i) => `v.k${i} = s${column}`).join(' AND ');
    await this.session.run(`UPDATE ${this.name} s SET ${sets.join(', ')} FROM (${view}) v WHERE ${on}`);
  }

  /** Throws `ENV_SYNC_DANGLING_REFERENCE` when a row names a row that the target does not have (after `resolve`). */
  async checkResolved(fk: ForeignKeyEdge): Promise<void> {
    const named = this.named(fk);
    const missing = `${named[0]} IS NOT NULL AND ${this.resolved(fk)[0]} IS NULL`;
    const [row] = await this.session.query<{ key: string; target: string; total: string }>(
      `SELECT json_build_array(${this.keyColumns('s').join(', ')})::text AS key, json_build_array(${named.join(', ')})::text AS target, ` +
      `count(*) OVER ()::text AS total FROM ${this.name} s WHERE ${missing} LIMIT 1`);
    if (row) throw EnvSyncError.danglingReference(this.plan.name, JSON.parse(row.key), fk.name, JSON.parse(row.target), Number(row.total));
  }
}
