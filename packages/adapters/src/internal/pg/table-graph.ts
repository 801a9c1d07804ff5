import { GraphError, SchemaError, type GraphNode, type RegistryEntry, type RelationGraph } from '@entity-sync/core';
import { ident, type SqlSession } from './sql-session.js';
import { TableCatalog, type CatalogColumn, type CatalogTable } from './table-catalog.js';

/** An entity's table as graph operations see it: the database's own columns and types. */
export interface TableNode {
  /** Entity name (the inheritance root for single-table inheritance). */
  entity: string;
  table: string;
  schema: string;
  /** `"schema"."table"`. */
  qualified: string;
  primaryKey: CatalogColumn[];
  /** The columns that leave the database: all but those `@SyncModel` `include` / `exclude` keep back. */
  columns: CatalogColumn[];
  /** Every column of the table. */
  allColumns: CatalogColumn[];
  /** Names of the columns `@SyncModel` keeps back. */
  excluded: Set<string>;
  /** The primary key is unique in the database (a primary key, a unique index, or one on every partition). */
  keyed: boolean;
  catalog: CatalogTable;
  pivot: boolean;
}

/** A foreign key between two tables, named after its owning relation (`InvoiceLine.track`). */
export interface ForeignKeyEdge {
  name: string;
  /** Name of the inverse relation (`Track<-InvoiceLine.track`), what `follow` / `excludeRelations` also accept. */
  inverseName: string;
  child: TableNode;
  parent: TableNode;
  /** Columns of the child holding the key. */
  columns: CatalogColumn[];
  /** Columns of the parent it points at. */
  referenced: CatalogColumn[];
  /** The referenced columns are the parent's primary key (the usual case). */
  referencesPrimaryKey: boolean;
  nullable: boolean;
  /** The database's constraint is DEFERRABLE. */
  deferrable: boolean;
  /**
   * A validated constraint of the database keeps it, on NOT NULL columns: every child row holds
   * the key of a parent row that exists (what a transaction sees once deferred checks are done).
   */
  enforced: boolean;
  selfReference: boolean;
}

/**
 * The relation graph in table terms, with column types from the database: the shape every
 * set-based SQL statement of export, import and delete is generated from.
 */
export class TableGraph {
  readonly tables = new Map<string, TableNode>();
  readonly foreignKeys: ForeignKeyEdge[] = [];
  private readonly aliases = new Map<string, ForeignKeyEdge>();

  /** Reads the catalog of every schema the graph's entities live in, and builds the graph on it. */
  static async load(session: SqlSession, graph: RelationGraph, schema: string, registry?: (entity: string) => RegistryEntry | undefined): Promise<TableGraph> {
    const others = [...graph.nodes.values()].map((node) => node.schema).filter((name): name is string => !!name && name !== '*');
    return new TableGraph(graph, await TableCatalog.load(session, schema, others), registry);
  }

  constructor(readonly graph: RelationGraph, readonly catalog: TableCatalog, registry?: (entity: string) => RegistryEntry | undefined) {
    for (const node of graph.nodes.values()) {
      if (node.inheritance) continue;
      const schema = node.schema && node.schema !== '*' ? node.schema : catalog.schema;
      const table = catalog.table(node.table, schema);
      if (!table) {
        throw SchemaError.tableMissing(node.name, node.table, schema);
      }
      const excluded = excludedColumns(node, registry?.(node.name));
      const keyNames = node.primaryKey.join();
      this.tables.set(node.name, {
        entity: node.name,
        table: node.table,
        schema,
        qualified: `${ident(schema)}.${ident(node.table)}`,
        primaryKey: node.primaryKey.map((name) => catalog.column(node.table, name, schema)),
        columns: table.columns.filter((column) => !excluded.has(column.name)),
        allColumns: table.columns,
        excluded,
        keyed: table.keys.some((key) => key.every((name) => node.primaryKey.includes(name))) || keyNames === '',
        catalog: table,
        pivot: node.pivot,
      });
    }
    for (const edge of graph.edges) {
      const fk = edge.foreignKey;
      if (!fk || !edge.owner) continue;
      const child = this.table(fk.owner);
      const parent = this.table(fk.references);
      const referenced = fk.referencedColumns.map((name) => catalog.column(parent.table, name, parent.schema));
      const constraint = child.catalog.foreignKeys.find((key) => key.columns.join() === fk.columns.join());
      const columns = fk.columns.map((name) => catalog.column(child.table, name, child.schema));
      const foreignKey: ForeignKeyEdge = {
        name: edge.name,
        inverseName: edge.inverse,
        child,
        parent,
        columns,
        referenced,
        referencesPrimaryKey: referenced.length === parent.primaryKey.length &&
          referenced.every((column, i) => column.name === parent.primaryKey[i]!.name),
        nullable: fk.nullable,
        deferrable: constraint?.deferrable ?? false,
        enforced: !!constraint?.validated && columns.every((column) => !column.nullable),
        selfReference: child === parent,
      };
      this.foreignKeys.push(foreignKey);
      this.aliases.set(edge.name, foreignKey);
      this.aliases.set(edge.inverse, foreignKey);
    }
    // A many-to-many relation's name stands for the pivot's foreign key to that side.
    for (const edge of graph.edges) {
      if (edge.kind !== 'many-to-many' || !edge.pivot) continue;
      const pivotKey = this.foreignKeys.find((fk) => fk.child.entity === edge.pivot!.entity &&
        fk.columns.map((c) => c.name).join() === edge.pivot!.fromColumns.join());
      if (pivotKey) this.aliases.set(edge.name, pivotKey);
    }
  }

  /** The table node of an entity (its inheritance root's for a subclass). */
  table(entity: string): TableNode {
    const node = this.graph.node(entity);
    const table = this.tables.get(node.inheritance?.root ?? node.name);
    if (!table) throw new Error(`no table for ${entity}`);
    return table;
  }

  /** The foreign key a relation name refers to, either direction; throws `GRAPH_UNKNOWN_RELATION`. */
  foreignKey(relation: string): ForeignKeyEdge {
    const fk = this.aliases.get(relation);
    if (fk) return fk;
    this.graph.edge(relation);
    throw GraphError.relationWithoutForeignKey(relation);
  }

  /** The table node of an entity that graph operations read or write; throws `TABLE_WITHOUT_KEY` for a table nothing keeps unique. */
  keyedTable(entity: string): TableNode {
    const table = this.table(entity);
    if (!table.keyed) throw SchemaError.tableWithoutKey(table.entity, `${table.schema}.${table.table}`, table.primaryKey.map((c) => c.name));
    return table;
  }

  /** Foreign keys held by `table`'s rows (what its rows need). */
  needs(table: TableNode): ForeignKeyEdge[] {
    return this.foreignKeys.filter((fk) => fk.child === table);
  }

  /** Foreign keys that point at `table`'s rows (what depends on them). */
  dependents(table: TableNode): ForeignKeyEdge[] {
    return this.foreignKeys.filter((fk) => fk.parent === table);
  }
}

/** `a.x = b.y AND ...` over two column lists. */
export function joinOn(leftAlias: string, left: CatalogColumn[], rightAlias: string, right: CatalogColumn[]): string {
  return left.map((column, i) => `${leftAlias}.${ident(column.name)} = ${rightAlias}.${ident(right[i]!.name)}`).join(' AND ');
}

/** Column list with an alias prefix. */
export function columnList(alias: string, columns: CatalogColumn[]): string {
  return columns.map((column) => `${alias}.${ident(column.name)}`).join(', ');
}

// `@SyncModel({ include })` keeps the properties it names, the primary key and the natural key;
// `exclude` keeps back what it names.
function excludedColumns(node: GraphNode, entry: RegistryEntry | undefined): Set<string> {
  const { include, exclude, naturalKey = [] } = entry?.syncModel ?? {};
  if (!include && !exclude) return new Set();
  const keys = new Set([...node.primaryKeyProperties, ...naturalKey.map((path) => path.split('.')[0]!)]);
  const keep = (property: string) => keys.has(property) || (include ? include.includes(property) : !exclude!.includes(property));
  return new Set(node.columns.filter((column) => !keep(column.property.split('.')[0]!)).map((column) => column.name));
}
