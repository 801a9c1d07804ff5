import type { SqlSession } from './sql-session.js';

/** A column as the database has it. */
export interface CatalogColumn {
  name: string;
  /** `format_type` of the column: usable in casts (`integer`, `character varying(160)`, `numeric(10,2)`). */
  type: string;
  nullable: boolean;
  /** The sequence that feeds it (serial or identity), if any. */
  sequence?: string;
  /** Integer-typed: new keys can be allocated above the highest one. */
  integer: boolean;
  uuid: boolean;
  /** Text-like: sorts with COLLATE "C" for a byte order that is the same everywhere. */
  text: boolean;
}

/** A unique constraint or index other than the primary key. */
export interface UniqueKey {
  name: string;
  columns: string[];
}

/** The tables of one schema, read from the database's own catalog. */
export class TableCatalog {
  private constructor(
    readonly schema: string,
    private readonly tables: Map<string, CatalogColumn[]>,
    private readonly uniques: Map<string, UniqueKey[]>,
  ) {}

  /** Reads every table of `schema` in one statement. */
  static async load(session: SqlSession, schema: string): Promise<TableCatalog> {
    const rows = await session.query<{ table: string; column: string; type: string; notnull: boolean; seq: string | null; category: string; typname: string }>(`
      select c.relname as "table", a.attname as "column", format_type(a.atttypid, a.atttypmod) as "type",
        a.attnotnull as "notnull", t.typcategory as "category", t.typname as "typname",
        pg_get_serial_sequence(quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname) as "seq"
      from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        join pg_namespace n on n.oid = c.relnamespace
        join pg_type t on t.oid = a.atttypid
      where n.nspname = ? and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
      order by c.relname, a.attnum`, [schema]);
    const tables = new Map<string, CatalogColumn[]>();
    for (const row of rows) {
      const columns = tables.get(row.table) ?? [];
      columns.push({
        name: row.column,
        type: row.type,
        nullable: !row.notnull,
        sequence: row.seq ?? undefined,
        integer: ['int2', 'int4', 'int8'].includes(row.typname),
        uuid: row.typname === 'uuid',
        text: row.category === 'S',
      });
      tables.set(row.table, columns);
    }
    const uniqueRows = await session.query<{ table: string; name: string; columns: string[] }>(`
      select c.relname as "table", i.relname as "name", array_agg(a.attname::text order by k.ord) as "columns"
      from pg_index x
        join pg_class c on c.oid = x.indrelid
        join pg_class i on i.oid = x.indexrelid
        join pg_namespace n on n.oid = c.relnamespace
        cross join unnest(x.indkey) with ordinality as k(attnum, ord)
        join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
      where n.nspname = ? and x.indisunique and not x.indisprimary and x.indpred is null and x.indexprs is null
      group by c.relname, i.relname
      order by c.relname, i.relname`, [schema]);
    const uniques = new Map<string, UniqueKey[]>();
    for (const row of uniqueRows) uniques.set(row.table, [...(uniques.get(row.table) ?? []), { name: row.name, columns: row.columns }]);
    return new TableCatalog(schema, tables, uniques);
  }

  /** Unique keys of `table` besides its primary key. */
  uniqueKeys(table: string): UniqueKey[] {
    return this.uniques.get(table) ?? [];
  }

  /** The columns of `table`, or undefined when the schema has no such table. */
  columns(table: string): CatalogColumn[] | undefined {
    return this.tables.get(table);
  }

  /** One column of `table`; throws when missing (the graph and the database disagree). */
  column(table: string, name: string): CatalogColumn {
    const column = this.tables.get(table)?.find((candidate) => candidate.name === name);
    if (!column) throw new Error(`column ${table}.${name} is not in schema ${this.schema}`);
    return column;
  }
}
