import { asSyncFileRef, EnvSyncError, type SyncStreamModel, type SyncStreamRow } from '@entity-sync/core';
import { lineCopy } from '../../internal/pg/copy-text.js';
import { ident, type SqlSession } from '../../internal/pg/sql-session.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { ForeignKeyEdge } from '../../internal/pg/table-graph.js';
import type { NaturalKeySql, OwnKeyPart, SyncModelPlan } from './sync-model-plan.js';

let stageCounter = 0;

/**
 * A model's pulled rows in a temporary table of text columns, where the pull decides with
 * set-based SQL: `k<i>` the natural key, `c<i>` the values (a file column holds the sha256 until
 * the file's target reference replaces it), `r<j>_<i>` the natural key each reference points at,
 * `f<j>_<i>` the target's foreign-key value it resolves to, `id<i>` the target row's primary key,
 * `_new` rows the pull inserts (or, see `isNew`, those left without `id0`), `_changed` rows it updates.
 */
export class SyncStage {
  readonly name = `es_env_${++stageCounter}`;
  private readonly copy: ReturnType<typeof lineCopy>;
  private readonly position: number[];
  private readonly referenceWidth: number[];
  private ownKeyChecked = false;
  private newUnmarked = false;
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

  /** Queues one row line (checked by the reader) for COPY; `line` names it in errors. A promise when it sends a batch (see `lineCopy`). */
  add(row: SyncStreamRow, line: number): Promise<void> | undefined {
    // one flat list of text cells, in the order of `loadedColumns`, without intermediate arrays
    const cells: (string | null)[] = row.k.slice();
    for (const i of this.position) {
      const cell = row.v[i] ?? null;
      cells.push(cell === null || typeof cell === 'string' ? cell : asSyncFileRef(cell)!.sha256);
    }
    for (let j = 0; j < this.referenceWidth.length; j++) {
      const key = row.r[j] ?? null;
      const width = this.referenceWidth[j]!;
      if (key !== null && key.length !== width) {
        throw EnvSyncError.streamInvalid(`reference ${this.plan.references[j]!.name} of ${this.plan.name} holds ${key.length} key values, the target's key has ${width}`, line);
      }
      for (let i = 0; i < width; i++) cells.push(key === null ? null : key[i]!);
    }
    this.rows += 1;
    return this.copy.add(...cells);
  }

  /**
   * Sends what is queued; throws when a key appears twice. The stage gets no index: every statement
   * on it reads all of it, and each UPDATE of it would rewrite the index too.
   */
  async finish(): Promise<void> {
    await this.copy.finish();
    const keys = this.keyColumns();
    const [duplicate] = await this.session.query<{ key: string }>(
      `SELECT json_build_array(${keys.join(', ')})::text AS key FROM ${this.name} GROUP BY ${keys.join(', ')} HAVING count(*) > 1 LIMIT 1`);
    if (duplicate) throw EnvSyncError.streamInvalid(`${this.plan.name} ${duplicate.key} appears more than once`);
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

  /**
   * Sets `id<i>` (and the `also` assignments) of the staged rows (those matching `where`) found in
   * the target by natural key: through the table's own columns when the key allows it (see
   * `NaturalKeySql.ownKey`; the `deferred` references are not resolved yet), else through the parents.
   */
  async matchByNaturalKey(keys: NaturalKeySql, deferred: Set<string>, where = 'true', also: string[] = []): Promise<void> {
    const own = await this.ownKey(keys, deferred);
    const targetIds = this.plan.table.primaryKey.map((column) => `${ident(column.name)}::text`);
    if (own) {
      const sets = [...targetIds.map((id, i) => `id${i} = t.${id}`), ...also];
      await this.session.run(`UPDATE ${this.name} s SET ${sets.join(', ')} FROM ${this.plan.table.qualified} t WHERE ${this.ownKeyMatch(own, 't')} AND ${where}`);
      return;
    }
    const view = keys.keyView(this.plan.name, this.plan.table.primaryKey);
    const sets = [...this.plan.table.primaryKey.map((_, i) => `id${i} = v.p${i}`), ...also];
    const on = this.plan.naturalKey.map((_, i) => `v.k${i} = s.k${i}`).join(' AND ');
    await this.session.run(`UPDATE ${this.name} s SET ${sets.join(', ')} FROM (${view}) v WHERE ${on} AND ${where}`);
  }

  /**
   * Whether the rows the pull inserts hold exactly their staged values, so that nothing needs to
   * find them again: no reference of them is left NULL (`deferred`) and no BEFORE INSERT trigger
   * may change them.
   */
  insertsAsStaged(deferred: Set<string>): boolean {
    return !this.plan.table.catalog.beforeInsertTriggers.length && !this.plan.references.some((fk) => deferred.has(fk.name));
  }

  /** The rows just inserted were left without `id0` (see `insertsAsStaged`): that is what tells them as new from now on. */
  leftNewUnmarked(): void {
    this.newUnmarked = true;
  }

  /** The condition on the stage (aliased `alias`) of the rows the pull inserted. */
  isNew(alias: string): string {
    return this.newUnmarked ? `${alias}.id0 IS NULL` : `${alias}._new`;
  }

  /**
   * The primary-key column whose new values the pull may draw from its sequence before inserting:
   * a one-column key that a sequence feeds (serial, identity, a `nextval` default) and the source
   * does not send. A BEFORE INSERT trigger may change the other values (the update sets them back),
   * and the natural key among them, which is why the rows are found again by the drawn key
   * (`checkInserted` refuses one the trigger moved or skipped).
   */
  drawnKey(): CatalogColumn | undefined {
    const { primaryKey } = this.plan.table;
    const [column] = primaryKey;
    if (primaryKey.length !== 1 || !column!.sequence || this.plan.columns.includes(column!)) return undefined;
    return column;
  }

  /**
   * Throws `ENV_SYNC_INSERT_LOST` when a row the pull inserted is not in the target as its stage
   * says: with `drawn`, a `_new` row whose drawn key the target lacks; else a row left without `id0`.
   */
  async checkInserted(drawn: boolean): Promise<void> {
    const lost = drawn
      ? `s._new AND NOT EXISTS (SELECT 1 FROM ${this.plan.table.qualified} t WHERE ${this.matchTarget('t', 's')})`
      : 's.id0 IS NULL';
    const [row] = await this.session.query<{ key: string; total: string }>(
      `SELECT json_build_array(${this.keyColumns('s').join(', ')})::text AS key, count(*) OVER ()::text AS total FROM ${this.name} s WHERE ${lost} LIMIT 1`);
    if (row) throw EnvSyncError.insertLost(this.plan.name, JSON.parse(row.key), this.plan.table.catalog.beforeInsertTriggers, Number(row.total));
  }

  /** Gives the staged rows the target lacks (no `id0`) their new key from `column`'s sequence, and marks them `_new`. */
  async drawIds(column: CatalogColumn): Promise<void> {
    await this.session.run(`UPDATE ${this.name} SET id0 = nextval('${column.sequence!.replace(/'/g, "''")}')::text, _new = true WHERE id0 IS NULL`);
  }

  /**
   * Runs `insert` (an INSERT into the target of the staged rows without `id0`, without RETURNING)
   * and marks those rows `_new` with their new ids: from what the insert returns when the key is
   * the table's own, else by matching them again.
   */
  async insertAndMark(keys: NaturalKeySql, deferred: Set<string>, insert: string): Promise<void> {
    const own = await this.ownKey(keys, deferred);
    if (!own) {
      if (await this.session.run(insert)) await this.matchByNaturalKey(keys, deferred, 's.id0 IS NULL', ['_new = true']);
      await this.checkInserted(false);
      return;
    }
    const returned = [...this.plan.table.primaryKey, ...own.flatMap((part) => ('column' in part ? [part.column] : part.reference.columns))];
    const sets = [...this.plan.table.primaryKey.map((column, i) => `id${i} = n.${ident(column.name)}::text`), '_new = true'];
    await this.session.run(`WITH n AS (${insert} RETURNING ${[...new Set(returned)].map((column) => ident(column.name)).join(', ')}) ` +
      `UPDATE ${this.name} s SET ${sets.join(', ')} FROM n WHERE ${this.ownKeyMatch(own, 'n')} AND s.id0 IS NULL`);
    await this.checkInserted(false);
  }

  // The own key of the plan, once checked against the staged rows: the key values a reference stands for must be the key it names.
  private async ownKey(keys: NaturalKeySql, deferred: Set<string>): Promise<OwnKeyPart[] | undefined> {
    const own = keys.ownKey(this.plan, deferred);
    if (!own || this.ownKeyChecked) return own;
    const differs = own.flatMap((part) => 'reference' in part
      ? [`(${Array.from({ length: part.width }, (_, n) => `s.k${part.key + n}`).join(', ')}) IS DISTINCT FROM (${this.named(part.reference).join(', ')})`] : []);
    if (differs.length) {
      const [row] = await this.session.query<{ key: string }>(
        `SELECT json_build_array(${this.keyColumns('s').join(', ')})::text AS key FROM ${this.name} s WHERE ${differs.join(' OR ')} LIMIT 1`);
      if (row) throw EnvSyncError.streamInvalid(`the natural key ${row.key} of a ${this.plan.name} row does not start with the key of the row its reference names`);
    }
    this.ownKeyChecked = true;
    return own;
  }

  // `t.<column> = s.<staged value>::<type>` for every column of an own key.
  private ownKeyMatch(own: OwnKeyPart[], target: string): string {
    return own.flatMap((part) => 'column' in part
      ? [`${target}.${ident(part.column.name)} = s.k${part.key}::${part.column.type}`]
      : part.reference.columns.map((column, i) => `${target}.${ident(column.name)} = ${this.resolved(part.reference)[i]}::${column.type}`)).join(' AND ');
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
