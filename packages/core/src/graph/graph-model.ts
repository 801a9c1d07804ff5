/** The four shapes a relation between two entities can take. */
export type RelationKind = 'many-to-one' | 'one-to-one' | 'one-to-many' | 'many-to-many';

/** One column of an entity's table. */
export interface GraphColumn {
  /** Column name in the database. */
  name: string;
  /** Property the column belongs to (a relation's name for a foreign-key column; `address.street` inside an embeddable). */
  property: string;
  /** Column type as the ORM maps it (`int`, `varchar(160)`, `numeric(10,2)`...). */
  type: string;
  nullable: boolean;
  primary: boolean;
  /** Filled by the database when absent on insert (serial, identity). */
  autoincrement: boolean;
}

/** An entity (or a pivot table the ORM maps as one). */
export interface GraphNode {
  /** Entity name: the class or schema name. */
  name: string;
  /** Table name, without schema. */
  table: string;
  /** Schema of the table when the mapping sets one. */
  schema?: string;
  /** Primary-key column names, in key order (several for a composite key). */
  primaryKey: string[];
  /** Primary-key property names, in the same order. */
  primaryKeyProperties: string[];
  columns: GraphColumn[];
  /** A pure join table behind a many-to-many relation. */
  pivot: boolean;
  /** Single-table inheritance: the entity whose table this one shares, and its discriminator. */
  inheritance?: { root: string; discriminatorColumn: string; discriminatorValue?: string };
}

/** The foreign key an edge walks: `columns` of `owner` point at `referencedColumns` of `references`. */
export interface ForeignKeyRef {
  owner: string;
  columns: string[];
  references: string;
  referencedColumns: string[];
  /** Every column of the key accepts NULL. */
  nullable: boolean;
}

/** The join table of a many-to-many edge, seen from the edge's `from` side. */
export interface PivotRef {
  /** The pivot's node name. */
  entity: string;
  table: string;
  /** Pivot columns pointing at the `from` entity's primary key. */
  fromColumns: string[];
  /** Pivot columns pointing at the `to` entity's primary key. */
  toColumns: string[];
}

/**
 * One direction of a relation. Every foreign key yields two edges, one each way, whether
 * or not the entity declares the inverse collection.
 */
export interface GraphEdge {
  /**
   * `Entity.property` for a declared property (`Publisher.books`); `Entity<-Owner.property`
   * for the inverse of a foreign key the entity does not declare (`Artist<-Album.artist`).
   */
  name: string;
  from: string;
  to: string;
  kind: RelationKind;
  /** The property on `from`, absent for an undeclared inverse. */
  property?: string;
  /** `from` holds the foreign key (many-to-one, owning one-to-one) or owns the pivot (many-to-many). */
  owner: boolean;
  /** The foreign key walked; absent for many-to-many, which goes through `pivot`. */
  foreignKey?: ForeignKeyRef;
  pivot?: PivotRef;
  /** The relation may be empty: a nullable foreign key, or any to-many side. */
  nullable: boolean;
  selfReference: boolean;
  /** Name of the edge that walks the same relation the other way. */
  inverse: string;
}
