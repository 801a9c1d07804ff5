import {
  dependencyOrder,
  DocumentError,
  ImportError,
  type CellValue,
  type DocumentSource,
  type ImportConflict,
} from '@entity-sync/core';
import type { EntitySync } from '../entity-sync.js';
import type { ConflictPolicy, EntityImportCounts, ImportReport } from './import-graph.js';
import type { GraphProgress } from './key-walker.js';
import { ident, type SqlSession } from './sql-session.js';
import { StagingTable } from './staging-table.js';
import type { CatalogColumn } from './table-catalog.js';
import type { ForeignKeyEdge, TableGraph, TableNode } from './table-graph.js';

/** How conflicts are resolved. */
export interface ImporterRules {
  onConflict: ConflictPolicy;
  matchBy: 'primaryKey' | 'naturalKey';
  onProgress?: (progress: GraphProgress) => void;
}

/**
 * The import's decisions, made table by table in dependency order with set-based SQL over
 * the staged rows: key rewriting, conflicts, new keys, writes, deferred keys, sequences.
 */
export class GraphImporter {
  private readonly staged = new Map<string, StagingTable>();
  private readonly rekeyed = new Set<string>();
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
      const staging = new StagingTable(entity, this.tables.table(entity.name));
      await staging.create(this.session);
      let loaded = 0;
      for await (const batch of batches) {
        await staging.load(this.session, batch, loaded + 1);
        loaded += batch.length;
        this.rows += batch.length;
        this.rules.onProgress?.({ phase: 'load', entity: entity.name, rows: this.rows });
      }
      const duplicates = await staging.index(this.session);
      if (duplicates.length) {
        throw DocumentError.invalid(`${entity.name} rows ${duplicates.map((key) => JSON.stringify(key)).join(', ')} appear more than once`);
      }
      this.staged.set(entity.name, staging);
    }
  }

  async apply(dryRun: boolean): Promise<ImportReport> {
    const { order, deferred } = dependencyOrder(this.tables.graph, this.staged.keys());
    const deferredKeys = new Set(deferred.map((edge) => this.tables.foreignKey(edge.name)));
    for (const entity of order) {
      const staging = this.staged.get(entity)!;
      await this.translateKeys(staging, (fk) => !fk.selfReference && !deferredKeys.has(fk));
      await this.decide(staging);
      await this.checkUniqueKeys(staging);
      await this.translateKeys(staging, (fk) => fk.selfReference);
      await this.blockBelowConflicts(staging);
      // The database checks every foreign key as rows go in; only when it refuses are the rows
      // looked up again, to name the ones that point nowhere.
      await this.session.run('SAVEPOINT es_write');
      try {
        await this.write(staging, deferredKeys);
        await this.session.run('RELEASE SAVEPOINT es_write');
      } catch (error) {
        await this.session.run('ROLLBACK TO SAVEPOINT es_write');
        await this.checkReferences(staging, (fk) => !deferredKeys.has(fk));
        throw error;
      }
      this.rules.onProgress?.({ phase: 'apply', entity, rows: this.rows });
    }
    for (const fk of deferredKeys) await this.setDeferred(fk);
    if (this.rules.onConflict === 'fail' && this.conflicts.length) throw ImportError.conflicts(this.conflicts);
    // remap cannot give a row a new natural key: a natural key that exists is a conflict unless matchBy reuses it
    if (this.unresolved.length) throw ImportError.conflicts(this.unresolved);
    const sequences = await this.advanceSequences(dryRun);
    return this.report(dryRun, sequences);
  }

  // Rewrites foreign keys that point at staged rows whose key the import changed.
  private async translateKeys(staging: StagingTable, which: (fk: ForeignKeyEdge) => boolean): Promise<void> {
    for (const fk of this.tables.needs(staging.table)) {
      const parent = this.staged.get(fk.parent.entity);
      if (!which(fk) || !parent || !this.rekeyed.has(fk.parent.entity) || !fk.referencesPrimaryKey) continue;
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
      `FROM ${staging.name} s JOIN ${table.qualified} t ON ${join} WHERE ${condition} ORDER BY ${staging.original().join(', ')}`);
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
    this.conflicts.push(...found);
    return found;
  }

  // A row to be inserted whose unique column values another row already holds: no policy resolves it.
  private async checkUniqueKeys(staging: StagingTable): Promise<void> {
    const table = staging.table;
    for (const unique of this.tables.catalog.uniqueKeys(table.table)) {
      const columns = unique.columns.map((name) => table.columns.find((column) => column.name === name)!);
      if (columns.some((column) => !column)) continue;
      const join = columns.map((column) => `t.${ident(column.name)} = ${staging.typed(column)}`).join(' AND ');
      const found = await this.listConflicts(staging, 'unique', join, `s._action IN ('insert', 'remap')`, unique.name);
      if (!found.length) continue;
      this.unresolved.push(...found);
      this.withConflicts.add(staging);
      await this.session.run(`UPDATE ${staging.name} s SET _action = 'conflict' FROM ${table.qualified} t WHERE ${join} AND s._action IN ('insert', 'remap')`);
    }
  }

  // Decides each staged row's action and final key.
  private async decide(staging: StagingTable): Promise<void> {
    const { onConflict, matchBy } = this.rules;
    const table = staging.table;
    const setKey = table.primaryKey.map((column) => `${staging.colName(column)} = t.${ident(column.name)}::text`).join(', ');
    const keyChanged = `(${staging.key().join(', ')}) IS DISTINCT FROM (${staging.original().join(', ')})`;
    const natural = this.naturalKeyColumns(table);
    if (natural?.length) {
      const join = natural.map((name) => {
        const column = table.columns.find((c) => c.name === name)!;
        return `t.${ident(name)} ${column.nullable ? 'IS NOT DISTINCT FROM' : '='} ${staging.typed(column)}`;
      }).join(' AND ');
      const elsewhere = `NOT (${staging.matchTarget()})`;
      const found = await this.listConflicts(staging, 'naturalKey', join, elsewhere);
      if (onConflict === 'remap' && matchBy !== 'naturalKey') this.unresolved.push(...found);
      const action = matchBy === 'naturalKey' ? 'reuse'
        : onConflict === 'skip' ? 'skip' : onConflict === 'overwrite' ? 'update' : 'conflict';
      const changed = await this.session.run(`UPDATE ${staging.name} s SET _action = '${action}', ${setKey} FROM ${table.qualified} t ` +
        `WHERE ${join} AND s._action = 'insert'${matchBy === 'naturalKey' ? '' : ` AND ${elsewhere}`}`);
      if (changed > 0) await this.noteRekeyed(staging, keyChanged);
      if (changed > 0 && action === 'conflict') this.withConflicts.add(staging);
    }
    if (onConflict === 'remap') {
      const allocated = await this.allocateKeys(staging);
      await this.noteRekeyed(staging, keyChanged);
      if (!allocated) {
        // a key made only of foreign keys (a link row) between rows that were reused already exists: skip, do not duplicate
        await this.session.run(`UPDATE ${staging.name} s SET _action = 'skip' FROM ${table.qualified} t WHERE ${staging.matchTarget()} AND s._action = 'remap'`);
      }
      return;
    }
    await this.listConflicts(staging, 'primaryKey', staging.matchTarget(), `s._action = 'insert'`);
    const action = onConflict === 'skip' ? 'skip' : onConflict === 'overwrite' ? 'update' : 'conflict';
    const marked = await this.session.run(`UPDATE ${staging.name} s SET _action = '${action}' FROM ${table.qualified} t WHERE ${staging.matchTarget()} AND s._action = 'insert'`);
    if (marked > 0 && action === 'conflict') this.withConflicts.add(staging);
  }

  private async noteRekeyed(staging: StagingTable, keyChanged: string): Promise<void> {
    const [row] = await this.session.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${staging.name} s WHERE ${keyChanged}`);
    if ((row?.n ?? 0) > 0) this.rekeyed.add(staging.table.entity);
  }

  // New keys for 'remap' rows: from the column's sequence, above the highest integer, or a new uuid.
  // Key columns that are foreign keys were already rewritten to their parents' new keys.
  private async allocateKeys(staging: StagingTable): Promise<boolean> {
    const table = staging.table;
    await this.session.run(`UPDATE ${staging.name} s SET _action = 'remap' WHERE s._action = 'insert'`);
    const foreignKeyColumns = new Set(this.tables.needs(table).flatMap((fk) => fk.columns.map((c) => c.name)));
    let allocated = false;
    for (const column of table.primaryKey) {
      if (foreignKeyColumns.has(column.name)) continue;
      allocated = true;
      let value: string;
      if (column.sequence) {
        // Above both the sequence and the highest id (explicit ids leave a sequence behind), without drawing
        // from the sequence: a dry run then moves nothing and reports the very keys the real run gives.
        value = `(GREATEST((SELECT coalesce(max(${ident(column.name)}), 0) FROM ${table.qualified}), ` +
          `(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${column.sequence})) ` +
          `+ row_number() OVER (ORDER BY ${staging.original('x').join(', ')}))::text`;
      }
      else if (column.integer) value = `((SELECT coalesce(max(${ident(column.name)}), 0) FROM ${table.qualified}) + row_number() OVER (ORDER BY ${staging.original('x').join(', ')}))::text`;
      else if (column.uuid) value = 'gen_random_uuid()::text';
      else throw ImportError.remapUnsupported(table.entity, column.name, column.type);
      const target = staging.colName(column);
      await this.session.run(`UPDATE ${staging.name} s SET ${target} = n.v FROM (SELECT ${staging.original('x').map((o, j) => `${o} AS o${j}`).join(', ')}, ${value} AS v ` +
        `FROM ${staging.name} x WHERE x._action = 'remap') n WHERE ${staging.original('s').map((o, j) => `${o} = n.o${j}`).join(' AND ')}`);
    }
    return allocated;
  }

  // Rows below an unresolved conflict cannot be written either; the conflict is what gets reported.
  private async blockBelowConflicts(staging: StagingTable): Promise<void> {
    for (const fk of this.tables.needs(staging.table)) {
      const parent = this.staged.get(fk.parent.entity);
      if (!parent || !fk.referencesPrimaryKey || fk.selfReference || !this.withConflicts.has(parent)) continue;
      const blocked = await this.session.run(`UPDATE ${staging.name} s SET _action = 'blocked' FROM ${parent.name} p ` +
        `WHERE ${fk.columns.map((column, i) => `${staging.col(column)} = ${parent.col(fk.parent.primaryKey[i]!, 'p')}`).join(' AND ')} ` +
        `AND p._action IN ('conflict', 'blocked') AND s._action IN ('insert', 'remap', 'update')`);
      if (blocked > 0) this.withConflicts.add(staging);
    }
  }

  // Every foreign key of a row to be written must point at a row of the target or of the document.
  private async checkReferences(staging: StagingTable, which: (fk: ForeignKeyEdge) => boolean): Promise<void> {
    for (const fk of this.tables.needs(staging.table)) {
      if (!which(fk)) continue;
      const selfRows = fk.selfReference
        ? ` AND NOT EXISTS (SELECT 1 FROM ${staging.name} x WHERE ${fk.referenced.map((column, i) => `${staging.col(column, 'x')} = ${staging.col(fk.columns[i]!)}`).join(' AND ')} AND x._action IN ('insert', 'remap'))`
        : '';
      const missing = await this.session.query<Record<string, unknown>>(
        `SELECT ${staging.original().map((o, j) => `${o} AS k${j}`).join(', ')}, count(*) OVER () AS total FROM ${staging.name} s ` +
        `WHERE s._action IN ('insert', 'remap', 'update') AND ${fk.columns.map((c) => `${staging.col(c)} IS NOT NULL`).join(' AND ')} ` +
        `AND NOT EXISTS (SELECT 1 FROM ${fk.parent.qualified} p WHERE ${fk.referenced.map((column, i) => `p.${ident(column.name)} = ${staging.typed(fk.columns[i]!)}`).join(' AND ')})${selfRows} ` +
        `ORDER BY ${staging.original().join(', ')} LIMIT 5`);
      if (missing.length) {
        throw ImportError.dangling(staging.table.entity, fk.name,
          missing.map((row) => staging.table.primaryKey.map((_, j) => row[`k${j}`] as CellValue)), Number(missing[0]!.total));
      }
    }
  }

  private async write(staging: StagingTable, deferredKeys: Set<ForeignKeyEdge>): Promise<void> {
    const table = staging.table;
    const later = new Set([...deferredKeys].filter((fk) => fk.child === table).flatMap((fk) => fk.columns.map((c) => c.name)));
    const columns = table.columns.map((column) => ident(column.name)).join(', ');
    const values = table.columns.map((column) => (later.has(column.name) ? 'NULL' : staging.typed(column))).join(', ');
    await this.session.run(`INSERT INTO ${table.qualified} (${columns}) SELECT ${values} FROM ${staging.name} s WHERE s._action IN ('insert', 'remap')`);
    const keyNames = new Set(table.primaryKey.map((column) => column.name));
    const updatable = table.columns.filter((column) => !keyNames.has(column.name) && !later.has(column.name));
    if (updatable.length) {
      await this.session.run(`UPDATE ${table.qualified} t SET ${updatable.map((column) => `${ident(column.name)} = ${staging.typed(column)}`).join(', ')} ` +
        `FROM ${staging.name} s WHERE ${staging.matchTarget()} AND s._action = 'update'`);
    }
  }

  // A foreign key that closed a cycle: rewritten and set once the rows it points at exist.
  private async setDeferred(fk: ForeignKeyEdge): Promise<void> {
    const staging = this.staged.get(fk.child.entity)!;
    await this.translateKeys(staging, (candidate) => candidate === fk);
    await this.checkReferences(staging, (candidate) => candidate === fk);
    await this.session.run(`UPDATE ${fk.child.qualified} t SET ${fk.columns.map((column) => `${ident(column.name)} = ${staging.typed(column)}`).join(', ')} ` +
      `FROM ${staging.name} s WHERE ${staging.matchTarget()} AND s._action IN ('insert', 'remap', 'update')`);
  }

  // Moves each sequence past its column's highest value (sequences ignore rollbacks, so a dry run only reports them).
  private async advanceSequences(dryRun: boolean): Promise<string[]> {
    const advanced: string[] = [];
    for (const staging of this.staged.values()) {
      for (const column of staging.table.columns) {
        if (column.sequence && column.integer && await this.advanceSequence(staging.table, column, dryRun)) advanced.push(column.sequence);
      }
    }
    return advanced;
  }

  // True when the sequence was (or, in a dry run, would be) behind the column's highest value.
  private async advanceSequence(table: TableNode, column: CatalogColumn, dryRun: boolean): Promise<boolean> {
    const [row] = await this.session.query<{ v: string | null }>(
      `SELECT ${dryRun ? 'm.v' : `setval('${column.sequence!.replace(/'/g, "''")}', m.v)`}::text AS v ` +
      `FROM (SELECT max(${ident(column.name)}) AS v FROM ${table.qualified}) m ` +
      `WHERE m.v IS NOT NULL AND m.v > (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM ${column.sequence})`);
    return !!row?.v;
  }

  private async report(dryRun: boolean, sequences: string[]): Promise<ImportReport> {
    const entities: Record<string, EntityImportCounts> = {};
    const idMap: Record<string, [CellValue[], CellValue[]][]> = {};
    for (const [entity, staging] of this.staged) {
      const counts: EntityImportCounts = { created: 0, updated: 0, skipped: 0, remapped: 0, reused: 0 };
      const rows = await this.session.query<{ action: string; n: number }>(
        `SELECT _action AS action, count(*)::int AS n FROM ${staging.name} GROUP BY _action`);
      for (const { action, n } of rows) {
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
          `FROM ${staging.name} s WHERE (${staging.key().join(', ')}) IS DISTINCT FROM (${staging.original().join(', ')}) ORDER BY ${staging.original().join(', ')}`);
        idMap[entity] = moved.map((row) => [
          Array.from({ length: width }, (_, j) => row[`o${j}`] ?? null),
          Array.from({ length: width }, (_, j) => row[`n${j}`] ?? null),
        ]);
      }
    }
    return { dryRun, entities, conflicts: this.conflicts, idMap, sequences, rows: this.rows, statements: this.session.statements };
  }
}
