import { GraphError } from '../errors/graph-error.js';
import type { GraphEdge, GraphNode } from './graph-model.js';

/**
 * Every entity of an ORM and every relation between them, in both directions.
 * Built once after discovery by an adapter; read by every capability.
 */
export class RelationGraph {
  readonly nodes: ReadonlyMap<string, GraphNode>;
  readonly edges: readonly GraphEdge[];
  private readonly edgesByName: Map<string, GraphEdge>;
  private readonly edgesByNode: Map<string, GraphEdge[]>;

  constructor(nodes: Iterable<GraphNode>, edges: Iterable<GraphEdge>) {
    this.nodes = new Map([...nodes].map((node) => [node.name, node]));
    this.edges = [...edges];
    this.edgesByName = new Map(this.edges.map((edge) => [edge.name, edge]));
    this.edgesByNode = new Map([...this.nodes.keys()].map((name) => [name, []]));
    for (const edge of this.edges) this.edgesByNode.get(edge.from)?.push(edge);
  }

  /** The node of `entity`; throws `GRAPH_UNKNOWN_ENTITY` when there is none. */
  node(entity: string): GraphNode {
    const node = this.nodes.get(entity);
    if (!node) throw GraphError.unknownEntity(entity, [...this.nodes.keys()]);
    return node;
  }

  /** The edge named `name` (`'Publisher.books'`); throws `GRAPH_UNKNOWN_RELATION` when there is none. */
  edge(name: string): GraphEdge {
    const edge = this.edgesByName.get(name);
    if (edge) return edge;
    const entity = name.split(/\.|<-/)[0] ?? name;
    throw GraphError.unknownRelation(name, (this.edgesByNode.get(entity) ?? []).map((e) => e.name));
  }

  /** Every edge leaving `entity`. */
  edgesFrom(entity: string): GraphEdge[] {
    this.node(entity);
    return [...(this.edgesByNode.get(entity) ?? [])];
  }

  /** Edges to the rows `entity` references and cannot be inserted without (many-to-one, owning one-to-one). */
  needs(entity: string): GraphEdge[] {
    return this.edgesFrom(entity).filter((edge) => edge.foreignKey?.owner === entity && edge.owner);
  }

  /** Edges to the rows that reference `entity` through a foreign key (one-to-many, inverse one-to-one). */
  dependents(entity: string): GraphEdge[] {
    return this.edgesFrom(entity).filter((edge) => edge.foreignKey !== undefined && !edge.owner);
  }

  /** The entity mapped to `table`: the inheritance root when several share it. */
  nodeForTable(table: string, schema?: string): GraphNode | undefined {
    for (const node of this.nodes.values()) {
      if (node.table === table && (schema === undefined || node.schema === schema) && !node.inheritance?.root) return node;
    }
    for (const node of this.nodes.values()) {
      if (node.table === table && (schema === undefined || node.schema === schema)) return node;
    }
    return undefined;
  }
}
