import { EntitySyncError, type RelationGraph } from '@entity-sync/core';
import { ident } from './sql-session.js';
import type { CatalogColumn, TableCatalog } from './table-catalog.js';

/** An entity's table as graph operations see it: the database's own columns and types. */
export interface TableNode {
  /** Entity name (the inheritance root for single-table inheritance). */
  entity: string;
  table: string;
  /** `"schema"."table"`. */
  qualified: string;
  primaryKey: CatalogColumn[];
  columns: CatalogColumn[];
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

  constructor(readonly graph: RelationGraph, readonly catalog: TableCatalog) {
    for (const node of graph.nodes.values()) {
      if (node.inheritance) continue;
      const columns = catalog.columns(node.table);
      if (!columns) {
        throw new EntitySyncError('SCHEMA_MISMATCH',
          `Table '${node.table}' of ${node.name} does not exist in schema '${catalog.schema}'. Create the schema (run your migrations) first.`,
          { info: { entity: node.name, table: node.table } });
      }
      this.tables.set(node.name, {
        entity: node.name,
        table: node.table,
        qualified: `${ident(node.schema ?? catalog.schema)}.${ident(node.table)}`,
        primaryKey: node.primaryKey.map((name) => catalog.column(node.table, name)),
        columns,
        pivot: node.pivot,
      });
    }
    for (const edge of graph.edges) {
      const fk = edge.foreignKey;
      if (!fk || !edge.owner) continue;
      const child = this.table(fk.owner);
      const parent = this.table(fk.references);
      const referenced = fk.referencedColumns.map((name) => catalog.column(parent.table, name));
      const foreignKey: ForeignKeyEdge = {
        name: edge.name,
        inverseName: edge.inverse,
        child,
        parent,
        columns: fk.columns.map((name) => catalog.column(child.table, name)),
        referenced,
        referencesPrimaryKey: referenced.length === parent.primaryKey.length &&
          referenced.every((column, i) => column.name === parent.primaryKey[i]!.name),
        nullable: fk.nullable,
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
    throw new EntitySyncError('GRAPH_UNKNOWN_RELATION', `Relation '${relation}' has no foreign key to walk.`, { info: { relation } });
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
