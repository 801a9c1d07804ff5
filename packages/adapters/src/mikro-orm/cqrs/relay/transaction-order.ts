import type { RelationGraph } from '@entity-sync/core';
import type { MasterEntity } from '../master/master-messages.js';

// The outbox keeps one entry per row and transaction, at the position of the row's first change,
// with its final state: the order of a transaction's entries is not an order its net changes
// can be applied in, one by one. Two examples. The transaction updates account A, deletes
// transfer T -> A, deletes A: A's entry (a delete) comes before T's, and a replica that deletes A
// first breaks its foreign key. Another inserts A, inserts T -> A, updates A: a relay that moved
// A's entry to its last change would send T before A. So the relay orders each transaction's
// entries by the foreign keys between master entities, keeping the outbox order where they
// leave a choice: a saved row after the rows its final state references, a row that referenced a
// deleted row before the transaction (its entry's `previous`) before that delete. Every prefix
// of the published messages then leaves a replica's foreign keys intact, however a consumer
// cuts them into batches. Transactions keep their place by their last entry, which is never
// before the entries of a transaction they waited for (a row lock, a referenced row).

/** One outbox entry as the relay orders it: its position, transaction, row and the captured rows (column names). */
export interface OrderedEntry {
  /** The outbox id, as text (a bigint). */
  id: string;
  /** The transaction id, as text. */
  tx: string;
  cqrsId: string;
  key: unknown[];
  state: Record<string, unknown> | null;
  previous?: Record<string, unknown> | null;
}

/** A foreign key between two master entities: `columns` of the owner, in the order of the referenced master's key. */
interface Reference {
  target: string;
  columns: string[];
}

const rowId = (cqrsId: string, values: unknown[]): string => `${cqrsId}\u0000${JSON.stringify(values.map((value) => String(value)))}`;

/** Orders the outbox entries of a relay batch: see the comment at the top of this file. */
export class TransactionOrder {
  private readonly references = new Map<string, Reference[]>();

  constructor(masters: Iterable<MasterEntity>, graph: RelationGraph) {
    const list = [...masters];
    const byEntity = new Map(list.map((master) => [master.entity, master]));
    for (const master of list) {
      const references: Reference[] = [];
      for (const edge of graph.needs(master.entity)) {
        const target = byEntity.get(edge.to);
        const foreignKey = edge.foreignKey!;
        if (!target) continue;
        const columns = target.keyColumns.map((column) => foreignKey.columns[foreignKey.referencedColumns.indexOf(column)]);
        if (columns.every((column): column is string => column !== undefined)) references.push({ target: target.cqrsId, columns });
      }
      if (references.length) this.references.set(master.cqrsId, references);
    }
  }

  /** True when no master references another: every order is then as good as the outbox's. */
  get trivial(): boolean {
    return this.references.size === 0;
  }

  /** The entries in publishing order: transactions by their last entry, each in foreign-key order. */
  order<T extends OrderedEntry>(entries: T[]): T[] {
    if (entries.length < 2) return entries;
    const byTx = new Map<string, T[]>();
    for (const entry of [...entries].sort((a, b) => compareIds(a.id, b.id))) {
      const group = byTx.get(entry.tx);
      if (group) group.push(entry);
      else byTx.set(entry.tx, [entry]);
    }
    const groups = [...byTx.values()].sort((a, b) => compareIds(a.at(-1)!.id, b.at(-1)!.id));
    return groups.flatMap((group) => (this.trivial || group.length < 2 ? group : this.orderTransaction(group)));
  }

  // Each entry's keys of the rows it references: in its final state, and before the transaction.
  private referenced(entry: OrderedEntry, row: Record<string, unknown> | null | undefined): string[] {
    if (!row) return [];
    const found: string[] = [];
    for (const reference of this.references.get(entry.cqrsId) ?? []) {
      const values = reference.columns.map((column) => row[column]);
      if (values.every((value) => value !== null && value !== undefined)) found.push(rowId(reference.target, values));
    }
    return found;
  }

  // A depth-first walk in outbox order that puts each entry's prerequisites before it: a
  // topological order that keeps the outbox order wherever the keys allow. An entry met again
  // while its own prerequisites are being placed closes a cycle, which no order of single rows
  // can satisfy; it keeps its outbox place (a replica needs deferrable keys for such a cycle).
  private orderTransaction<T extends OrderedEntry>(group: T[]): T[] {
    const saved = new Map<string, T>();
    const referencedBefore = new Map<string, T[]>();
    for (const entry of group) {
      if (entry.state) saved.set(rowId(entry.cqrsId, entry.key), entry);
      for (const id of this.referenced(entry, entry.previous)) referencedBefore.set(id, [...referencedBefore.get(id) ?? [], entry]);
    }
    const prerequisites = (entry: T): T[] => {
      const before = entry.state
        ? this.referenced(entry, entry.state).map((id) => saved.get(id)).filter((other): other is T => !!other)
        : referencedBefore.get(rowId(entry.cqrsId, entry.key)) ?? [];
      return before.filter((other) => other !== entry).sort((a, b) => compareIds(a.id, b.id));
    };
    const ordered: T[] = [];
    const state = new Map<T, 'open' | 'placed'>();
    for (const start of group) {
      if (state.has(start)) continue;
      const stack: { entry: T; next: T[] }[] = [{ entry: start, next: prerequisites(start) }];
      state.set(start, 'open');
      while (stack.length) {
        const top = stack.at(-1)!;
        const next = top.next.shift();
        if (next === undefined) {
          stack.pop();
          state.set(top.entry, 'placed');
          ordered.push(top.entry);
        } else if (!state.has(next)) {
          state.set(next, 'open');
          stack.push({ entry: next, next: prerequisites(next) });
        }
      }
    }
    return ordered;
  }
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
