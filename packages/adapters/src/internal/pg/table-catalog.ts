import { arrayLiteral, type SqlSession } from './sql-session.js';

/** A column as the database has it. */
export interface CatalogColumn {
  name: string;
  /** `format_type` of the column: usable in casts (`integer`, `character varying(160)`, `numeric(10,2)`). */
  type: string;
  nullable: boolean;
  /** The column has a default (a sequence, an expression, an identity). */
  hasDefault: boolean;
  /** `GENERATED ALWAYS AS (...) STORED`: the database computes it, nothing may write it. */
  generated: boolean;
  /** An identity column: `always` refuses explicit values unless the insert overrides it. */
  identity?: 'always' | 'byDefault';
  /** The sequence that feeds it, schema-qualified and quoted: serial, identity, or a `nextval` default it does not own. */
  sequence?: string;
  /** Integer-typed: new keys can be allocated above the highest one. */
  integer: boolean;
  uuid: boolean;
  /** Text-like: sorts with COLLATE "C" for a byte order that is the same everywhere. */
  text: boolean;
  /** COPY prints the value as its `::text` cast spells it (not so for boolean, char(n), inet...). */
  copiesAsText: boolean;
}

// Types whose cast to text is their output function, which is what COPY prints: numbers, strings
// without padding, times, JSON, uuid, bytea; arrays and enums too. The others have casts of their own.
const COPIES_AS_TEXT = new Set(['int2', 'int4', 'int8', 'numeric', 'float4', 'float8', 'text', 'varchar', 'uuid', 'date', 'time',
  'timetz', 'timestamp', 'timestamptz', 'interval', 'json', 'jsonb', 'bytea']);

/** A unique constraint or index other than the primary key. */
export interface UniqueKey {
  name: string;
  columns: string[];
}

/** A foreign-key constraint as declared in the database. */
export interface CatalogForeignKey {
  name: string;
  columns: string[];
  deferrable: boolean;
  /** Checked for every row (not added `NOT VALID` and left so). */
  validated: boolean;
}

/** What the database says about one table besides its columns. */
export interface CatalogTable {
  schema: string;
  name: string;
  columns: CatalogColumn[];
  /** Sets of columns that are unique, the primary key among them (for a partitioned table: unique on every partition). */
  keys: string[][];
  /** Unique keys besides the primary key, checked as conflicts on import. */
  uniques: UniqueKey[];
  foreignKeys: CatalogForeignKey[];
  /** Row-level BEFORE triggers (on the table or its partitions) that may change what is written. */
  beforeInsertTriggers: string[];
  beforeUpdateTriggers: string[];
  /** Every enabled user trigger of the relations that store the rows: the table, or its partitions (`relation` is quoted and qualified). */
  userTriggers: { relation: string; name: string; enabled: 'origin' | 'always' | 'replica' }[];
  partitioned: boolean;
}

interface ColumnRow {
  schema: string;
  table: string;
  column: string;
  type: string;
  notnull: boolean;
  hasdef: boolean;
  generated: string;
  identity: string;
  seq: string | null;
  category: string;
  typname: string;
  partitioned: boolean;
}

interface KeyRow { schema: string; table: string; name: string; primary: boolean; columns: string[]; own: boolean; partitions: number; holders: number }
interface ForeignKeyRow { schema: string; table: string; name: string; deferrable: boolean; validated: boolean; columns: string[] }
interface TriggerRow { schema: string; table: string; name: string; relation: string; enabled: string; insert: boolean; update: boolean }

// Columns with their sequence: pg_get_serial_sequence finds owned ones (serial, identity); a default
// `nextval('x')` on a sequence nobody owns (dumps, legacy schemas) is found through the default's dependency.
const COLUMNS = `
  select n.nspname as "schema", c.relname as "table", a.attname as "column", format_type(a.atttypid, a.atttypmod) as "type",
    a.attnotnull as "notnull", a.atthasdef as "hasdef", a.attgenerated::text as "generated", a.attidentity::text as "identity",
    t.typcategory as "category", t.typname as "typname", c.relkind = 'p' as "partitioned",
    row_number() over (order by n.nspname, c.relname, a.attnum) as ord,
    case when a.atthasdef or a.attidentity <> '' then coalesce(
      (select quote_ident(sn.nspname) || '.' || quote_ident(s.relname)
         from pg_depend d join pg_class s on s.oid = d.objid and s.relkind = 'S' join pg_namespace sn on sn.oid = s.relnamespace
        where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_class'::regclass and d.refobjid = c.oid and d.refobjsubid = a.attnum
          and d.deptype in ('a', 'i') limit 1),
      (select quote_ident(sn.nspname) || '.' || quote_ident(s.relname)
         from pg_attrdef ad join pg_depend d on d.classid = 'pg_attrdef'::regclass and d.objid = ad.oid and d.refclassid = 'pg_class'::regclass
           join pg_class s on s.oid = d.refobjid and s.relkind = 'S' join pg_namespace sn on sn.oid = s.relnamespace
        where ad.adrelid = c.oid and ad.adnum = a.attnum limit 1)) end as "seq"
  from pg_attribute a
    join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    join pg_type ct on ct.oid = a.atttypid
    join pg_type t on t.oid = case when ct.typtype = 'd' then ct.typbasetype else ct.oid end
  where n.nspname = any(?::text[]) and c.relkind in ('r', 'p') and not c.relispartition and a.attnum > 0 and not a.attisdropped`;

// Unique indexes (the primary key too) of each table, and of every leaf partition of a partitioned table:
// a key that lives on the partitions is a key of the whole table when every partition has it.
const KEYS = `
  with tables as (
    select c.oid, n.nspname as schema, c.relname as name, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any(?::text[]) and c.relkind in ('r', 'p') and not c.relispartition
  ), holders as (
    select t.oid as table_oid, t.oid as holder from tables t
    union all
    select t.oid, p.relid from (select * from tables where relkind = 'p') t cross join lateral pg_partition_tree(t.oid) p where p.isleaf
  ), indexes as (
    select h.table_oid, h.holder, i.relname as name, x.indisprimary as "primary",
      array(select a.attname::text from unnest(x.indkey) with ordinality k(attnum, ord)
              join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum order by k.ord) as columns
    from holders h join pg_index x on x.indrelid = h.holder join pg_class i on i.oid = x.indexrelid
    where x.indisunique and x.indpred is null and x.indexprs is null
  )
  select t.schema, t.name as "table", ix.name, ix."primary", ix.columns, ix.holder = t.oid as "own",
    (select count(*) from holders h where h.table_oid = t.oid and h.holder <> t.oid)::int as "partitions",
    (select count(distinct other.holder) from indexes other where other.table_oid = t.oid and other.holder <> t.oid and other.columns = ix.columns)::int as "holders",
    row_number() over (order by t.schema, t.name, ix.name) as ord
  from tables t join indexes ix on ix.table_oid = t.oid`;

const FOREIGN_KEYS = `
  select n.nspname as schema, c.relname as "table", k.conname as name, k.condeferrable as deferrable, k.convalidated as validated,
    row_number() over (order by n.nspname, c.relname, k.conname) as ord,
    array(select a.attname::text from unnest(k.conkey) with ordinality u(attnum, ord)
            join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum order by u.ord) as columns
  from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
  where k.contype = 'f' and k.conparentid = 0 and n.nspname = any(?::text[]) and not c.relispartition`;

// User triggers, enabled, where rows are stored: on each table, or on each partition of a partitioned one
// (a partition's copy of its parent's trigger is switched on its own). tgtype bits: 1 row, 2 before, 4 insert, 16 update.
const TRIGGERS = `
  select n.nspname as schema, c.relname as "table", g.tgname as name, g.tgenabled::text as enabled,
    row_number() over (order by n.nspname, c.relname, g.tgname, r.relid) as ord,
    (select quote_ident(rn.nspname) || '.' || quote_ident(rc.relname) from pg_class rc join pg_namespace rn on rn.oid = rc.relnamespace where rc.oid = r.relid) as relation,
    (g.tgtype & 3) = 3 and (g.tgtype & 4) <> 0 as "insert", (g.tgtype & 3) = 3 and (g.tgtype & 16) <> 0 as "update"
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
    cross join lateral (select c.oid as relid where c.relkind = 'r'
      union all select p.relid from pg_partition_tree(case when c.relkind = 'p' then c.oid end) p where p.isleaf) r
    join pg_trigger g on g.tgrelid = r.relid
  where n.nspname = any(?::text[]) and c.relkind in ('r', 'p') and not c.relispartition
    and not g.tgisinternal and g.tgenabled <> 'D'`;

// One round trip: the four lists as JSON arrays in one row.
const CATALOG = `select
  (select coalesce(json_agg(q order by q.ord), '[]') from (${COLUMNS}) q) as "columns",
  (select coalesce(json_agg(q order by q.ord), '[]') from (${KEYS}) q) as "keys",
  (select coalesce(json_agg(q order by q.ord), '[]') from (${FOREIGN_KEYS}) q) as "foreignKeys",
  (select coalesce(json_agg(q order by q.ord), '[]') from (${TRIGGERS}) q) as "triggers"`;

/** The tables of the schemas an ORM maps, read from the database's own catalog. */
export class TableCatalog {
  private constructor(readonly schema: string, private readonly tables: Map<string, CatalogTable>) {}

  /** Reads every table of `schema` (the default) and of `others` in one statement. */
  static async load(session: SqlSession, schema: string, others: Iterable<string> = []): Promise<TableCatalog> {
    const schemas = arrayLiteral([...new Set([schema, ...others])]);
    const tables = new Map<string, CatalogTable>();
    const tableOf = (row: { schema: string; table: string }) => tables.get(`${row.schema}.${row.table}`);
    const [catalog] = await session.query<{ columns: ColumnRow[]; keys: KeyRow[]; foreignKeys: ForeignKeyRow[]; triggers: TriggerRow[] }>(
      CATALOG, [schemas, schemas, schemas, schemas]);
    for (const row of catalog!.columns) {
      let table = tableOf(row);
      if (!table) {
        table = { schema: row.schema, name: row.table, columns: [], keys: [], uniques: [], foreignKeys: [],
          beforeInsertTriggers: [], beforeUpdateTriggers: [], userTriggers: [], partitioned: row.partitioned };
        tables.set(`${row.schema}.${row.table}`, table);
      }
      table.columns.push({
        name: row.column,
        type: row.type,
        nullable: !row.notnull,
        hasDefault: row.hasdef || row.identity !== '',
        generated: row.generated === 's',
        identity: row.identity === 'a' ? 'always' : row.identity === 'd' ? 'byDefault' : undefined,
        sequence: row.seq ?? undefined,
        integer: ['int2', 'int4', 'int8'].includes(row.typname),
        uuid: row.typname === 'uuid',
        text: row.category === 'S',
        copiesAsText: COPIES_AS_TEXT.has(row.typname) || row.category === 'A' || row.category === 'E',
      });
    }
    for (const row of catalog!.keys) {
      const table = tableOf(row);
      if (!table) continue;
      const wholeTable = row.own || (row.partitions > 0 && row.holders >= row.partitions);
      if (wholeTable && !table.keys.some((key) => key.join() === row.columns.join())) table.keys.push(row.columns);
      if (row.own && !row.primary) table.uniques.push({ name: row.name, columns: row.columns });
    }
    for (const row of catalog!.foreignKeys) {
      tableOf(row)?.foreignKeys.push({ name: row.name, columns: row.columns, deferrable: row.deferrable, validated: row.validated });
    }
    for (const row of catalog!.triggers) {
      const table = tableOf(row);
      table?.userTriggers.push({ relation: row.relation, name: row.name, enabled: row.enabled === 'A' ? 'always' : row.enabled === 'R' ? 'replica' : 'origin' });
      if (row.insert && !table?.beforeInsertTriggers.includes(row.name)) table?.beforeInsertTriggers.push(row.name);
      if (row.update && !table?.beforeUpdateTriggers.includes(row.name)) table?.beforeUpdateTriggers.push(row.name);
    }
    return new TableCatalog(schema, tables);
  }

  /** A table of `schema` (default: the catalog's own), or undefined when there is none. */
  table(name: string, schema = this.schema): CatalogTable | undefined {
    return this.tables.get(`${schema}.${name}`);
  }

  /** Unique keys of `table` besides its primary key. */
  uniqueKeys(table: string, schema = this.schema): UniqueKey[] {
    return this.table(table, schema)?.uniques ?? [];
  }

  /** The columns of `table`, or undefined when the schema has no such table. */
  columns(table: string, schema = this.schema): CatalogColumn[] | undefined {
    return this.table(table, schema)?.columns;
  }

  /** One column of `table`; throws when missing (the graph and the database disagree). */
  column(table: string, name: string, schema = this.schema): CatalogColumn {
    const column = this.table(table, schema)?.columns.find((candidate) => candidate.name === name);
    if (!column) throw new Error(`column ${table}.${name} is not in schema ${schema}`);
    return column;
  }
}
