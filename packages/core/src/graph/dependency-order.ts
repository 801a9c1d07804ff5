import type { GraphEdge } from './graph-model.js';
import type { RelationGraph } from './relation-graph.js';

/** Entities in an order that lets each row be inserted after the rows it references. */
export interface DependencyOrder {
  /** Referenced entities first; the entities of one cycle stand next to each other. */
  order: string[];
  /**
   * Foreign keys that point at an entity later in `order`: the edges that broke a cycle, each on
   * the cycle it breaks, deferrable or nullable ones wherever the cycle has them.
   */
  deferred: GraphEdge[];
  /**
   * Groups of entities whose foreign keys form a cycle, each in `order`'s order: their rows go in
   * (and out) together, in one statement, where no deferred key can be set afterwards.
   */
  cycles: string[][];
}

/** Options of `dependencyOrder`. */
export interface DependencyOrderOptions {
  /** True for an edge whose constraint the database can defer to commit: preferred, like a nullable one, to break a cycle. */
  deferrable?: (edge: GraphEdge) => boolean;
}

// Tarjan's strongly connected components over the `needs` edges of the included entities.
function components(names: string[], needs: Map<string, GraphEdge[]>): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const component = new Map<string, number>();
  const stack: string[] = [];
  let counter = 0;
  let found = 0;
  const visit = (name: string): void => {
    index.set(name, counter);
    low.set(name, counter++);
    stack.push(name);
    for (const edge of needs.get(name)!) {
      if (!index.has(edge.to)) {
        visit(edge.to);
        low.set(name, Math.min(low.get(name)!, low.get(edge.to)!));
      } else if (!component.has(edge.to)) {
        low.set(name, Math.min(low.get(name)!, index.get(edge.to)!));
      }
    }
    if (low.get(name) === index.get(name)) {
      let member: string;
      do {
        member = stack.pop()!;
        component.set(member, found);
      } while (member !== name);
      found++;
    }
  };
  for (const name of names) if (!index.has(name)) visit(name);
  return component;
}

/**
 * Orders `entities` (default: all) so that references come first. Self-references need no
 * deferral: one statement inserts a whole table and PostgreSQL checks keys at its end. A cycle
 * between tables is broken only at an edge of that cycle, at a deferrable or nullable foreign key
 * when it has one; its entities are placed together and listed in `cycles`. Ties keep a stable,
 * alphabetical order so that documents come out the same every time.
 */
export function dependencyOrder(graph: RelationGraph, entities?: Iterable<string>, options: DependencyOrderOptions = {}): DependencyOrder {
  const names = [...new Set(entities ?? graph.nodes.keys())].sort();
  const included = new Set(names);
  const needs = new Map<string, GraphEdge[]>();
  for (const name of names) {
    needs.set(name, graph.needs(name).filter((edge) => !edge.selfReference && included.has(edge.to)));
  }
  const component = components(names, needs);
  const members = new Map<number, string[]>();
  for (const name of names) members.set(component.get(name)!, [...(members.get(component.get(name)!) ?? []), name]);
  const soft = (edge: GraphEdge) => edge.nullable || !!options.deferrable?.(edge);

  const order: string[] = [];
  const placed = new Set<string>();
  const deferred: GraphEdge[] = [];
  const cycles: string[][] = [];
  const ready = (name: string) => needs.get(name)!.every((edge) => placed.has(edge.to));
  const place = (name: string) => {
    order.push(name);
    placed.add(name);
  };
  while (order.length < names.length) {
    const next = names.find((name) => !placed.has(name) && ready(name));
    if (next) {
      place(next);
      continue;
    }
    // Every unplaced entity waits: some cycle has all its outside references placed. Place that
    // whole cycle now, breaking it inside itself at the softest edges.
    const cycle = [...members.values()].find((group) => group.length > 1 && !placed.has(group[0]!) &&
      group.every((name) => needs.get(name)!.every((edge) => placed.has(edge.to) || component.get(edge.to) === component.get(name))))!;
    cycles.push([]);
    while (cycle.some((name) => !placed.has(name))) {
      let pick = cycle.find((name) => !placed.has(name) && ready(name));
      if (!pick) {
        const candidates = cycle.filter((name) => !placed.has(name)).map((name) => {
          const open = needs.get(name)!.filter((edge) => !placed.has(edge.to));
          return { name, open, hard: open.filter((edge) => !soft(edge)).length };
        });
        candidates.sort((a, b) => a.hard - b.hard || a.open.length - b.open.length || a.name.localeCompare(b.name));
        pick = candidates[0]!.name;
        deferred.push(...candidates[0]!.open);
      }
      place(pick);
      cycles.at(-1)!.push(pick);
    }
  }
  return { order, deferred, cycles };
}
