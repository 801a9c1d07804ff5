import type { GraphEdge } from './graph-model.js';
import type { RelationGraph } from './relation-graph.js';

/** Entities in an order that lets each row be inserted after the rows it references. */
export interface DependencyOrder {
  /** Referenced entities first. */
  order: string[];
  /**
   * Foreign keys that point at an entity later in `order` (the edges that broke a cycle,
   * nullable wherever possible): insert them as NULL, then set them once the target exists.
   */
  deferred: GraphEdge[];
}

/**
 * Orders `entities` (default: all) so that references come first. Self-references need no
 * deferral: one statement inserts a whole table and PostgreSQL checks keys at its end. A cycle
 * between tables is broken at a nullable foreign key when it has one. Ties keep a stable,
 * alphabetical order so that documents come out the same every time.
 */
export function dependencyOrder(graph: RelationGraph, entities?: Iterable<string>): DependencyOrder {
  const names = [...(entities ?? graph.nodes.keys())].sort();
  const included = new Set(names);
  const pending = new Map<string, GraphEdge[]>();
  for (const name of names) {
    pending.set(name, graph.needs(name).filter((edge) => !edge.selfReference && included.has(edge.to)));
  }
  const order: string[] = [];
  const placed = new Set<string>();
  const deferred: GraphEdge[] = [];
  while (order.length < names.length) {
    const ready = names.find((name) => !placed.has(name) && pending.get(name)!.every((edge) => placed.has(edge.to)));
    if (ready) {
      order.push(ready);
      placed.add(ready);
      continue;
    }
    // A cycle: place the entity whose unresolved references are all nullable (fewest first), deferring those keys.
    const candidates = names.filter((name) => !placed.has(name)).map((name) => {
      const open = pending.get(name)!.filter((edge) => !placed.has(edge.to));
      return { name, open, required: open.filter((edge) => !edge.nullable).length };
    });
    candidates.sort((a, b) => a.required - b.required || a.open.length - b.open.length || a.name.localeCompare(b.name));
    const pick = candidates[0]!;
    deferred.push(...pick.open);
    order.push(pick.name);
    placed.add(pick.name);
  }
  return { order, deferred };
}
