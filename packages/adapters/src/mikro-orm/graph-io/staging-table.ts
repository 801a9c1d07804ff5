import { DocumentError, type CellValue, type DocumentEntity } from '@entity-sync/core';
import { ident, literal, type SqlSession } from '../../internal/pg/sql-session.js';
import { copyText } from '../../internal/pg/copy-text.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import type { TableNode } from '../../internal/pg/table-graph.js';

let stagingCounter = 0;

// A document cell in COPY text format: text or null, anything else is a broken document.
function copyCell(value: unknown, entity: string, row: number): string {
  if (value !== null && typeof value !== 'string') throw DocumentError.invalid(`row ${row} of ${entity} holds a ${typeof value}, not text or null`, entity);
  return copyText(value);
}

/**
 * A document entity's rows loaded into a temporary table of text columns, where every
 * import decision is made with set-based SQL. `c<i>` holds column i as it will be written
 * (keys rewritten as the import decides), `o<j>` the row's primary key as in the document,
 * `_action` what happens to the row.
 */
export class StagingTable {
  readonly name = `es_stage_${++stagingCounter}`;
  /** Index in the document's columns of each target column, by name. */
  private readonly position = new Map<string, number>();
  /** The target's columns that the document holds, in the target's order. */
  readonly columns: CatalogColumn[];

  constructor(readonly entity: DocumentEntity, readonly table: TableNode) {
    entity.columns.forEach((column, i) => this.position.set(column.name, i));
    this.columns = table.allColumns.filter((column) => this.position.has(column.name));
  }

  /** The target column of that name, when the document holds it. */
  column(name: string): CatalogColumn | undefined {
    return this.columns.find((column) => column.name === name);
  }

  /** `s.c<i>` for a column of the target table. */
  col(column: CatalogColumn | string, alias = 's'): string {
    const name = typeof column === 'string' ? column : column.name;
    const index = this.position.get(name);
    if (index === undefined) throw new Error(`column ${name} is not in the document's ${this.entity.name}`);
    return `${alias}.c${index}`;
  }

  /** The bare staging column name (`c<i>`) of a target column, for SET lists. */
  colName(column: CatalogColumn): string {
    return this.col(column, '').slice(1);
  }

  /** The staged value cast to the target column's type. */
  typed(column: CatalogColumn, alias = 's'): string {
    return `${this.col(column, alias)}::${column.type}`;
  }

  /** `s.o<j>` columns: the primary key as the document has it. */
  original(alias = 's'): string[] {
    return this.table.primaryKey.map((_, j) => `${alias}.o${j}`);
  }

  /** The document's keys typed as the target's key columns, to order rows as the target does (2 before 10). */
  originalOrder(alias = 's'): string {
    return this.table.primaryKey.map((column, j) => `${alias}.o${j}::${column.type}`).join(', ');
  }

  /** Current (possibly rewritten) primary-key columns. */
  key(alias = 's'): string[] {
    return this.table.primaryKey.map((column) => this.col(column, alias));
  }

  async create(session: SqlSession): Promise<void> {
    const columns = this.entity.columns.map((_, i) => `c${i} text`);
    const originals = this.table.primaryKey.map((_, j) => `o${j} text`);
    await session.run(`CREATE TEMP TABLE ${this.name} (${[...columns, ...originals].join(', ')}, ` +
      `_action text NOT NULL DEFAULT 'insert') ON COMMIT DROP`);
  }

  /**
   * Loads batches of row lines (JSON arrays of text or null) through one COPY, which the database
   * reads while the next batch is converted; `onBatch` is told each batch's rows once sent. Throws
   * `DOCUMENT_INVALID` for a line that is not such an array, with its row number.
   */
  async load(session: SqlSession, batches: AsyncIterable<string[]>, onBatch: (rows: number) => void): Promise<void> {
    const keyPositions = this.table.primaryKey.map((column) => this.position.get(column.name)!);
    const names = [...this.entity.columns.map((_, i) => `c${i}`), ...keyPositions.map((_, j) => `o${j}`)];
    const copy = session.copyInStream(`COPY ${this.name} (${names.join(', ')}) FROM STDIN`);
    let loaded = 0;
    try {
      for await (const lines of batches) {
        await copy.write(this.copyText(lines, loaded + 1, keyPositions));
        loaded += lines.length;
        onBatch(lines.length);
      }
    } catch (error) {
      await copy.abort(error as Error);
      throw error;
    }
    await copy.end();
  }

  // A batch of row lines as COPY text: each row's cells, then its key cells again (the o<j> columns).
  private copyText(lines: string[], firstRow: number, keyPositions: number[]): string {
    const width = this.entity.columns.length;
    let text = '';
    for (let r = 0; r < lines.length; r++) {
      let row: unknown;
      try {
        row = JSON.parse(lines[r]!);
      } catch {
        row = undefined;
      }
      if (!Array.isArray(row) || row.length !== width) {
        throw DocumentError.invalid(`row ${firstRow + r} of ${this.entity.name} is not a list of ${width} values`, this.entity.name);
      }
      for (let i = 0; i < width; i++) text += `${i ? '\t' : ''}${copyCell(row[i], this.entity.name, firstRow + r)}`;
      for (const i of keyPositions) text += `\t${copyCell(row[i], this.entity.name, firstRow + r)}`;
      text += '\n';
    }
    return text;
  }

  /** Adds the index every later join uses; returns keys that appear more than once. */
  async index(session: SqlSession): Promise<CellValue[][]> {
    // the index build finds duplicates anyway; only when it fails are they looked up
    try {
      await session.runBatch(['SAVEPOINT es_stage_index',
        `CREATE UNIQUE INDEX ON ${this.name} (${this.table.primaryKey.map((_, j) => `o${j}`).join(', ')})`, 'RELEASE SAVEPOINT es_stage_index']);
      return [];
    } catch {
      await session.run('ROLLBACK TO SAVEPOINT es_stage_index');
    }
    const originals = this.original('s');
    const duplicates = await session.query<Record<string, CellValue>>(
      `SELECT ${originals.map((o, j) => `${o} AS k${j}`).join(', ')} FROM ${this.name} s GROUP BY ${originals.join(', ')} HAVING count(*) > 1 LIMIT 5`);
    return duplicates.map((row) => this.table.primaryKey.map((_, j) => row[`k${j}`] ?? null));
  }

  /** `t.pk = s.c_pk::type AND ...`: a target row with the staged row's current key. */
  matchTarget(targetAlias = 't', alias = 's'): string {
    return this.table.primaryKey.map((column) => `${targetAlias}.${ident(column.name)} = ${this.typed(column, alias)}`).join(' AND ');
  }

  /** Text of a target row's columns, differing from the staged ones: an array of column names. */
  differing(targetAlias = 't', alias = 's'): string {
    const cases = this.columns
      .map((column) => `CASE WHEN ${targetAlias}.${ident(column.name)}::text IS DISTINCT FROM ${this.col(column, alias)} THEN ${literal(column.name)} END`);
    return `array_remove(ARRAY[${cases.join(', ')}]::text[], NULL)`;
  }
}
