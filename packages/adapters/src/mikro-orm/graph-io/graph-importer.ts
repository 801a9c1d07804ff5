import {
  dependencyOrder,
  DocumentError,
  ImportError,
  SchemaError,
  type CellValue,
  type DocumentSource,
  type ImportConflict,
} from '@entity-sync/core';
import type { EntitySync } from '../extension/entity-sync.js';
import type { ConflictPolicy } from './import-options.js';
import type { EntityImportCounts, ImportReport, RewrittenValues } from './import-report.js';
import type { GraphProgress } from './key-walker.js';
import { isForeignKeyViolation } from '../../internal/pg/database-errors.js';
import { ident, literal, type SqlSession } from '../../internal/pg/sql-session.js';
import { advanceSequence, lastValue } from '../../internal/pg/sequence-position.js';
import { StagingTable } from './staging-table.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { ForeignKeyEdge, TableGraph, TableNode } from '../../internal/pg/table-graph.js';

// Appends one by one: spreading the conflicts of a large import into push() overflows the call stack.
function append<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

/** How conflicts are resolved. */
export interface ImporterRules {
  onConflict: ConflictPolicy;
  matchBy: 'primaryKey' | 'naturalKey';
  triggers: 'fire' | 'disable';
  onProgress?: (progress: GraphProgress) => void;
}

/**
 * The import's decisions, made table by table in dependency order with set-based SQL over
 * the staged rows: key rewriting, conflicts, new keys, writes, deferred keys, sequences.
 */
export class GraphImporter {
  private readonly staged = new Map<string, StagingTable>();
  private readonly rekeyed = new Set<string>();
  private readonly translated = new Set<ForeignKeyEdge>();
  private readonly rewritten: RewrittenValues[] = [];
  private readonly drawn = new Set<string>();
  // sequence -> the last value a dry run's computed draws reached
  private readonly dryRunDrawn = new Map<string, string>();
  private readonly conflicts: ImportConflict[] = [];
  private readonly unresolved: ImportConflict[] = [];
  // staging tables with rows that will not be written (unresolved conflicts, or rows below them)
  private readonly withConflicts = new Set<StagingTable>();
  private rows = 0;

  constructor(
    private readonly session: SqlSession,
    private readonly tables: TableGraph,
    private readonly sync: EntitySync,
    private readonly rules: ImporterRules,
  ) {}

  async stage(document: DocumentSource): Promise<void> {
    for await (const { entity, batches } of document.sections()) {
      const staging = new StagingTable(entity, this.tables.keyedTable(entity.name));
      await staging.create(this.session);
      await staging.load(this.session, batches, (rows) => {
        this.rows += rows;
        this.rules.onProgress?.({ phase: 'load', entity: entity.name, rows: this.rows });
      });
      const duplicates = await staging.index(this.session);
      if (duplicates.length) {
        throw DocumentError.invalid(`${entity.name} rows ${duplicates.map((key) => JSON.stringify(key)).join(', ')} appear more than once`);
      }
      this.staged.set(entity.name, staging);
    }
  }

  async apply(dryRun: boolean): Promise<ImportReport> {
    const { order, cycles } = dependencyOrder(this.tables.graph, this.staged.keys(),
      { deferrable: (edge) => !!edge.foreignKey && this.tables.foreignKey(edge.name).deferrable });
    const cycleOf = new Map(cycles.flatMap((cycle) => cycle.map((entity) => [entity, cycle] as const)));
    const decided = new Set<string>();
    for (const entity of order) {
      if (decided.has(entity)) continue;
      // The tables of a cycle are decided one after another and written by one statement, whose end is
      // when PostgreSQL checks their non-deferrable foreign keys: no NULL first, no UPDATE after.
      const group = (cycleOf.get(entity) ?? [entity]).map((name) => this.staged.get(name)!);
      for (const staging of group) {
        await this.translateKeys(staging, (fk) => !fk.selfReference && (decided.has(fk.parent.entity) || !this.staged.has(fk.parent.entity)));
        await this.decide(staging, dryRun);
        decided.add(staging.table.entity);
        await this.translateKeys(staging, (fk) => fk.selfReference);
      }
      for (const staging of group) await this.translateKeys(staging, (fk) => !fk.selfReference);
      // unique values are compared once every key in them is final
      for (const staging of group) await this.checkUniqueKeys(staging);
      // in a cycle, a blocked row can block a row of a table already looked at: until nothing changes
      for (let blocked = true; blocked;) {
        blocked = false;
        for (const staging of group) blocked = (await this.blockBelowConflicts(staging)) || blocked;
        if (group.length === 1) break;
      }
      if (this.rules.onConflict === 'overwrite') for (const staging of group) await this.keepIdentical(staging);
      // The database checks every foreign key as rows go in; only when it refuses are the rows
      // looked up again, to name the ones that point nowhere.
      // One round trip: nothing in between needs an answer.
      try {
        await this.session.runBatch(['SAVEPOINT es_write', ...this.triggerSwitch(group, 'DISABLE'), ...this.groupWrite(group),
          ...this.triggerSwitch(group, 'ENABLE'), 'RELEASE SAVEPOINT es_write']);
      } catch (error) {
        await this.session.run('ROLLBACK TO SAVEPOINT es_write');
        for (const staging of group) await this.checkReferences(staging, group);
        if (group.length > 1 && isForeignKeyViolation(error)) throw SchemaError.cycleUnbreakable(group.map((staging) => staging.table.entity), error);
        throw error;
      }
      for (const staging of group) await this.verifyWritten(staging);
      this.rules.onProgress?.({ phase: 'apply', entity, rows: this.rows });
    }
    if (this.rules.onConflict === 'fail' && this.conflicts.length) throw ImportError.conflicts(this.conflicts);
    // remap cannot give a row a new natural key: a natural key that exists is a conflict unless matchBy reuses it
    if (this.unresolved.length) throw ImportError.conflicts(this.unresolved);
    const sequences = await this.advanceSequences(dryRun);
    return this.report(dryRun, sequences);
  }

  // Rewrites foreign keys that point at staged rows whose key the import changed.
  // Runs once per foreign key (a second run would rewrite keys already rewritten), after its parent's keys are decided.
  private async translateKeys(staging: StagingTable, which: (fk: ForeignKeyEdge) => boolean): Promise<void> {
    for (const fk of this.tables.needs(staging.table)) {
      if (this.translated.has(fk) || !which(fk)) continue;
      this.translated.add(fk);
      const parent = this.staged.get(fk.parent.entity);
      if (!parent || !this.rekeyed.has(fk.parent.entity) || !fk.referencesPrimaryKey || !staging.column(fk.columns[0]!.name)) continue;
      const sets = fk.columns.map((column, i) => `${staging.colName(column)} = p.${parent.colName(fk.parent.primaryKey[i]!)}`);
      const match = fk.columns.map((column, i) => `${staging.col(column)} = p.o${i}`).join(' AND ');
      await this.session.run(`UPDATE ${staging.name} s SET ${sets.join(', ')} FROM ${parent.name} p WHERE ${match}`);
    }
  }

  private naturalKeyColumns(table: TableNode): string[] | undefined {
    const properties = this.sync.naturalKeyProperties(table.entity);
    if (!properties) return undefined;
    const node = this.tables.graph.node(table.entity);
    return properties.flatMap((property) => node.columns.filter((column) => column.property === property).map((column) => column.name));
  }

  private async listConflicts(staging: StagingTable, kind: ImportConflict['kind'], join: string, condition: string, constraint?: string): Promise<ImportConflict[]> {
    const found: ImportConflict[] = [];
    const table = staging.table;
    const rows = await this.session.query<Record<string, unknown>>(
      `SELECT ${staging.original().map((o, j) => `${o} AS k${j}`).join(', ')}, ` +
      `${table.primaryKey.map((column, j) => `t.${ident(column.name)}::text AS e${j}`).join(', ')}, ${staging.differing()} AS differing ` +
      `FROM ${staging.name} s JOIN ${table.qualified} t ON ${join} WHERE ${condition} ORDER BY ${staging.originalOrder()}`);
    for (const row of rows) {
      found.push({
        entity: table.entity,
        key: table.primaryKey.map((_, j) => row[`k${j}`] as CellValue),
        kind,
        ...(constraint ? { constraint } : {}),
        existingKey: table.primaryKey.map((_, j) => row[`e${j}`] as CellValue),
        differingColumns: (row.differing as string[]).filter((column) => kind === 'primaryKey' || !table.primaryKey.some((c) => c.name === column)),
      });
    }
    append(this.conflicts, found);
    return found;
  }

  // A row to be inserted whose unique column values another row already holds: no policy resolves it.
  private async checkUniqueKeys(staging: StagingTable): Promise<void> {
    const table = staging.table;
    for (const unique of table.catalog.uniques) {
      const columns = unique.columns.map((name) => staging.column(name));
      if (columns.some((column) => !column)) continue;
      const join = columns.map((column) => `t.${ident(column!.name)} = ${staging.typed(column!)}`).join(' AND ');
      const found = await this.listConflicts(staging, 'unique', join, `s._action IN ('insert', 'remap')`, unique.name);
      if (!found.length) continue;
      append(this.unresolved, found);
      this.withConflicts.add(staging);
      await this.session.run(`UPDATE ${staging.name} s SET _action = 'conflict' FROM ${table.qualified} t WHERE ${join} AND s._action IN ('insert', 'remap')`);
    }
  }

  // Decides each staged row's action and final key.
  private async decide(staging: StagingTable, dryRun: boolean): Promise<void> {
    const { onConflict, matchBy } = this.rules;
    const table = staging.table;
    const setKey = table.primaryKey.map((column) => `${staging.colName(column)} = t.${ident(column.name)}::text`).join(', ');
    const keyChanged = `(${staging.key().join(', ')}) IS DISTINCT FROM (${staging.original().join(', ')})`;
    const natural = this.naturalKeyColumns(table);
    if (natural?.length && natural.every((name) => staging.column(name))) {
      const join = natural.map((name) => {
        const column = staging.column(name)!;
        return `t.${ident(name)} ${column.nullable ? 'IS NOT DISTINCT FROM' : '='} ${staging.typed(column)}`;
      }).join(' AND ');
      const elsewhere = `NOT (${staging.matchTarget()})`;
      const found = await this.listConflicts(staging, 'naturalKey', join, elsewhere);
      if (onConflict === 'remap' && matchBy !== 'naturalKey') append(this.unresolved, found);
      const action = matchBy === 'naturalKey' ? 'reuse'
        : onConflict === 'skip' ? 'skip' : onConflict === 'overwrite' ? 'update' : 'conflict';
      const changed = await this.session.run(`UPDATE ${staging.name} s SET _action = ${literal(action)}, ${setKey} FROM ${table.qualified} t ` +
        `WHERE ${join} AND s._action = 'insert'${matchBy === 'naturalKey' ? '' : ` AND ${elsewhere}`}`);
      if (changed > 0) await this.noteRekeyed(staging, keyChanged);
      if (changed > 0 && action === 'conflict') this.withConflicts.add(staging);
    }
    if (onConflict === 'remap') {
      const allocated = await this.allocateKeys(staging, dryRun);
      await this.noteRekeyed(staging, keyChanged);
      if (!allocated) {
        // a key made only of foreign keys (a link row) between rows that were reused already exists: skip, do not duplicate
        await this.session.run(`UPDATE ${staging.name} s SET _action = 'skip' FROM ${table.qualified} t WHERE ${staging.matchTarget()} AND s._action = 'remap'`);
      }
      return;
    }
    await this.listConflicts(staging, 'primaryKey', staging.matchTarget(), `s._action = 'insert'`);
    const action = onConflict === 'skip' ? 'skip' : onConflict === 'overwrite' ? 'update' : 'conflict';
    const marked = await this.session.run(`UPDATE ${staging.name} s SET _action = ${literal(action)} FROM ${table.qualified} t WHERE ${staging.matchTarget()} AND s._action = 'insert'`);
    if (marked > 0 && action === 'conflict') this.withConflicts.add(staging);
  }

  // An overwrite leaves rows alone that already hold the file's values: no UPDATE, so no trigger rewrites them.
  private async keepIdentical(staging: StagingTable): Promise<void> {
    await this.session.run(`UPDATE ${staging.name} s SET _action = 'skip' FROM ${staging.table.qualified} t ` +
      `WHERE ${staging.matchTarget()} AND s._action = 'update' AND cardinality(${staging.differing()}) = 0`);
  }

  private async noteRekeyed(staging: StagingTable, keyChanged: string): Promise<void> {
    const [row] = await this.session.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${staging.name} s WHERE ${keyChanged}`);
    if ((row?.n ?? 0) > 0) this.rekeyed.add(staging.table.entity);
  }

  // New keys for 'remap' rows: from the column's sequence, above the highest integer, or a new uuid.
  // Key columns that are foreign keys were already rewritten to their parents' new keys.
  private async allocateKeys(staging: StagingTable, dryRun: boolean): Promise<boolean> {
    const table = staging.table;
    const remapped = await this.session.run(`UPDATE ${staging.name} s SET _action = 'remap' WHERE s._action = 'insert'`);
    if (remapped === 0) return true;
    const foreignKeyColumns = new Set(this.tables.needs(table).flatMap((fk) => fk.columns.map((c) => c.name)));
    const ordered = staging.original('x').join(', ');
    let allocated = false;
    for (const column of table.primaryKey) {
      if (foreignKeyColumns.has(column.name)) continue;
      allocated = true;
      let value: string;
      const highest = `(SELECT coalesce(max(${ident(column.name)}), 0) FROM ${table.qualified})`;
      if (column.sequence && column.integer && !dryRun) {
        // Drawn from the sequence (an identity's too), so that the app's concurrent inserts never get the same
        // keys; first moved past the highest id, which explicit ids may have left it behind.
        await this.session.query(`SELECT setval(${literal(column.sequence)}, m.v) FROM (SELECT ${highest} AS v) m ` +
          `WHERE m.v > ${lastValue(column.sequence)}`);
        this.drawn.add(column.sequence);
        value = `nextval(${literal(column.sequence)})::text`;
      } else if (column.sequence && column.integer) {
        // A dry run draws nothing: it computes the keys the real run's draws give, step by step of the
        // sequence, and remembers where it got to for the next table that draws from it.
        const before = this.dryRunDrawn.get(column.sequence);
        const [next] = await this.session.query<{ last: string; step: string }>(
          `SELECT GREATEST(${highest}, ${before === undefined ? lastValue(column.sequence) : `${before}::bigint`})::text AS last, ` +
          `seqincrement::text AS step FROM pg_sequence WHERE seqrelid = ${literal(column.sequence)}::regclass`);
        value = `(${next!.last}::bigint + ${next!.step}::bigint * row_number() OVER (ORDER BY ${ordered}))::text`;
        this.dryRunDrawn.set(column.sequence, String(BigInt(next!.last) + BigInt(next!.step) * BigInt(remapped)));
      } else if (column.integer) {
        value = `(${highest} + row_number() OVER (ORDER BY ${ordered}))::text`;
      } else if (column.uuid) {
        value = 'gen_random_uuid()::text';
      } else {
        throw ImportError.remapUnsupported(table.entity, column.name, column.type);
      }
      const target = staging.colName(column);
      await this.session.run(`UPDATE ${staging.name} s SET ${target} = n.v FROM (SELECT ${staging.original('x').map((o, j) => `${o} AS o${j}`).join(', ')}, ${value} AS v ` +
        `FROM (SELECT * FROM ${staging.name} x WHERE x._action = 'remap' ORDER BY ${ordered}) x) n ` +
        `WHERE ${staging.original('s').map((o, j) => `${o} = n.o${j}`).join(' AND ')}`);
    }
    return allocated;
  }

  // Rows below an unresolved conflict cannot be written either; the conflict is what gets reported.
  private async blockBelowConflicts(staging: StagingTable): Promise<boolean> {
    let any = false;
    for (const fk of this.tables.needs(staging.table)) {
      const parent = this.staged.get(fk.parent.entity);
      if (!parent || !fk.referencesPrimaryKey || fk.selfReference || !this.withConflicts.has(parent)) continue;
      if (!fk.columns.every((column) => staging.column(column.name))) continue;
      const blocked = await this.session.run(`UPDATE ${staging.name} s SET _action = 'blocked' FROM ${parent.name} p ` +
        `WHERE ${fk.columns.map((column, i) => `${staging.col(column)} = ${parent.col(fk.parent.primaryKey[i]!, 'p')}`).join(' AND ')} ` +
        `AND p._action IN ('conflict', 'blocked') AND s._action IN ('insert', 'remap', 'update')`);
      if (blocked > 0) this.withConflicts.add(staging);
      any ||= blocked > 0;
    }
    return any;
  }

  // Every foreign key of a row to be written must point at a row of the target, or at a row its own
  // statement writes (the same table, or another table of its cycle).
  private async checkReferences(staging: StagingTable, group: StagingTable[]): Promise<void> {
    for (const fk of this.tables.needs(staging.table)) {
      if (!fk.columns.every((column) => staging.column(column.name))) continue;
      const parent = group.find((member) => member.table === fk.parent);
      const written = parent && fk.referenced.every((column) => parent.column(column.name))
        ? ` AND NOT EXISTS (SELECT 1 FROM ${parent.name} x WHERE ${fk.referenced.map((column, i) => `${parent.col(column, 'x')} = ${staging.col(fk.columns[i]!)}`).join(' AND ')} AND x._action IN ('insert', 'remap'))`
        : '';
      const missing = await this.session.query<Record<string, unknown>>(
        `SELECT ${staging.original().map((o, j) => `${o} AS k${j}`).join(', ')}, count(*) OVER () AS total FROM ${staging.name} s ` +
        `WHERE s._action IN ('insert', 'remap', 'update') AND ${fk.columns.map((c) => `${staging.col(c)} IS NOT NULL`).join(' AND ')} ` +
        `AND NOT EXISTS (SELECT 1 FROM ${fk.parent.qualified} p WHERE ${fk.referenced.map((column, i) => `p.${ident(column.name)} = ${staging.typed(fk.columns[i]!)}`).join(' AND ')})${written} ` +
        `ORDER BY ${staging.originalOrder()} LIMIT 5`);
      if (missing.length) {
        throw ImportError.dangling(staging.table.entity, fk.name,
          missing.map((row) => staging.table.primaryKey.map((_, j) => row[`k${j}`] as CellValue)), Number(missing[0]!.total));
      }
    }
  }

  // The statements that write one staged table: inserts of new rows, updates of overwritten ones.
  // Generated columns are left to the database; identity ALWAYS keys are kept with OVERRIDING SYSTEM VALUE.
  private writeStatements(staging: StagingTable): string[] {
    const table = staging.table;
    const written = staging.columns.filter((column) => !column.generated);
    const overriding = written.some((column) => column.identity === 'always') ? ' OVERRIDING SYSTEM VALUE' : '';
    const statements = [`INSERT INTO ${table.qualified} (${written.map((column) => ident(column.name)).join(', ')})${overriding} ` +
      `SELECT ${written.map((column) => staging.typed(column)).join(', ')} FROM ${staging.name} s WHERE s._action IN ('insert', 'remap')`];
    const keyNames = new Set(table.primaryKey.map((column) => column.name));
    const updatable = written.filter((column) => !keyNames.has(column.name) && column.identity !== 'always');
    if (updatable.length) {
      statements.push(`UPDATE ${table.qualified} t SET ${updatable.map((column) => `${ident(column.name)} = ${staging.typed(column)}`).join(', ')} ` +
        `FROM ${staging.name} s WHERE ${staging.matchTarget()} AND s._action = 'update'`);
    }
    return statements;
  }

  // triggers: 'disable' writes the rows as the file has them, like pg_restore --disable-triggers: the
  // tables' own enabled user triggers are off while their rows go in (the table owner's right), and
  // back on, as they were, before anything else runs in the transaction.
  private triggerSwitch(group: StagingTable[], to: 'DISABLE' | 'ENABLE'): string[] {
    if (this.rules.triggers !== 'disable') return [];
    const triggers = group.flatMap((staging) => staging.table.catalog.userTriggers);
    if (!triggers.length) return [];
    // ALTER TABLE refuses a table with deferred key checks pending; the rows written so far reference
    // rows already there (a cycle goes in by one statement), so they can be checked now.
    return ['SET CONSTRAINTS ALL IMMEDIATE', ...triggers.map((trigger) => {
      const mode = to === 'DISABLE' ? 'DISABLE' : trigger.enabled === 'origin' ? 'ENABLE' : `ENABLE ${trigger.enabled.toUpperCase()}`;
      return `ALTER TABLE ${trigger.relation} ${mode} TRIGGER ${ident(trigger.name)}`;
    })];
  }

  // The tables of a cycle go in by one statement, whose end is when their keys are checked.
  private groupWrite(group: StagingTable[]): string[] {
    const statements = group.flatMap((staging) => this.writeStatements(staging));
    if (group.length === 1) return statements;
    return [`WITH ${statements.map((statement, i) => `w${i} AS (${statement})`).join(', ')} SELECT 1`];
  }

  // Generated columns and BEFORE triggers may store other values than the file's: compared, and reported.
  private async verifyWritten(staging: StagingTable): Promise<void> {
    const { catalog } = staging.table;
    const firing = this.rules.triggers === 'fire';
    const insertTriggers = firing ? catalog.beforeInsertTriggers : [];
    const updateTriggers = firing ? catalog.beforeUpdateTriggers : [];
    const checked = staging.columns.filter((column) => column.generated || insertTriggers.length || updateTriggers.length);
    if (!checked.length) return;
    const key = `json_build_array(${staging.original().join(', ')})::text`;
    // both sides through the column's type, so that a value written in another spelling ('1.5' for numeric(10,2)) is no difference
    const differs = (column: CatalogColumn) => `t.${ident(column.name)}::text IS DISTINCT FROM ${staging.typed(column)}::text`;
    const [row] = await this.session.query<Record<string, unknown>>(
      `SELECT ${checked.map((column, i) => `count(*) FILTER (WHERE ${differs(column)} AND s._action <> 'update')::int AS i${i}, ` +
        `count(*) FILTER (WHERE ${differs(column)} AND s._action = 'update')::int AS u${i}, ` +
        `(array_agg(${key} ORDER BY ${key}) FILTER (WHERE ${differs(column)}))[1:5] AS k${i}`).join(', ')} ` +
      `FROM ${staging.name} s JOIN ${staging.table.qualified} t ON ${staging.matchTarget()} WHERE s._action IN ('insert', 'remap', 'update')`);
    checked.forEach((column, i) => {
      const inserted = Number(row?.[`i${i}`] ?? 0);
      const updated = Number(row?.[`u${i}`] ?? 0);
      if (!inserted && !updated) return;
      const triggers = [...new Set([...(inserted ? insertTriggers : []), ...(updated ? updateTriggers : [])])].sort();
      this.rewritten.push({
        entity: staging.table.entity,
        column: column.name,
        rows: inserted + updated,
        sample: (row![`k${i}`] as string[]).map((text) => JSON.parse(text) as CellValue[]),
        by: column.generated ? 'generated column' : triggers.length ? `trigger ${triggers.join(', ')}` : 'the target database',
      });
    });
  }

  // Moves each sequence past its column's highest value (sequences ignore rollbacks, so a dry run only reports them).
  private async advanceSequences(dryRun: boolean): Promise<string[]> {
    const advanced = new Set<string>();
    for (const staging of this.staged.values()) {
      for (const column of staging.columns) {
        if (!column.sequence || !column.integer) continue;
        if (await advanceSequence(this.session, staging.table, column, dryRun) || this.drawn.has(column.sequence)) advanced.add(column.sequence);
      }
    }
    return [...advanced];
  }

  private async report(dryRun: boolean, sequences: string[]): Promise<ImportReport> {
    const entities: Record<string, EntityImportCounts> = {};
    const idMap: Record<string, [CellValue[], CellValue[]][]> = {};
    const stagings = [...this.staged.values()];
    const actions = stagings.length === 0 ? [] : await this.session.query<{ e: number; action: string; n: number }>(
      stagings.map((staging, i) => `SELECT ${i} AS e, _action AS action, count(*)::int AS n FROM ${staging.name} GROUP BY _action`).join(' UNION ALL '));
    for (const [index, [entity, staging]] of [...this.staged].entries()) {
      const counts: EntityImportCounts = { created: 0, updated: 0, skipped: 0, remapped: 0, reused: 0 };
      for (const { action, n } of actions.filter((row) => row.e === index)) {
        if (action === 'insert') counts.created += n;
        else if (action === 'remap') counts.remapped += n;
        else if (action === 'update') counts.updated += n;
        else if (action === 'reuse') counts.reused += n;
        else if (action === 'conflict' || action === 'blocked') continue;
        else counts.skipped += n;
      }
      entities[entity] = counts;
      if (this.rekeyed.has(entity)) {
        const width = staging.table.primaryKey.length;
        const moved = await this.session.query<Record<string, CellValue>>(
          `SELECT ${staging.original().map((o, j) => `${o} AS o${j}`).join(', ')}, ${staging.key().map((k, j) => `${k} AS n${j}`).join(', ')} ` +
          `FROM ${staging.name} s WHERE (${staging.key().join(', ')}) IS DISTINCT FROM (${staging.original().join(', ')}) ORDER BY ${staging.originalOrder()}`);
        idMap[entity] = moved.map((row) => [
          Array.from({ length: width }, (_, j) => row[`o${j}`] ?? null),
          Array.from({ length: width }, (_, j) => row[`n${j}`] ?? null),
        ]);
      }
    }
    return { dryRun, entities, conflicts: this.conflicts, idMap, sequences, rewritten: this.rewritten, rows: this.rows, statements: this.session.statements };
  }
}
