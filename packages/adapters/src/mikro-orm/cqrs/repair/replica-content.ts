import type { EntityManager } from '@mikro-orm/core';
import { entityClassOf } from '../../extension/compat.js';
import { EntitySync } from '../../extension/entity-sync.js';
import { ident, literal, type SqlSession } from '../../../internal/pg/sql-session.js';
import { mapFields } from '../replica/field-mapping.js';
import type { ReplicaHandlers } from '../replica/replica-handlers.js';
import type { ReplicaTarget } from '../replica/replica-batch.js';

// What diffReplica compares of a replica row's content: the columns an apply writes from the
// fields a message carries, mapped as the replica maps them. The values are compared in SQL as
// the column types read them, so that `1.50` and `1.5`, two spellings of one instant or two key
// orders of one JSON object are the same value, while any real difference counts.

interface ComparedColumn {
  property: string;
  column: string;
  /** A foreign key: compared when the message carries the key value, not an object a serializer embedded. */
  relation: boolean;
  /** What both sides go through before `IS DISTINCT FROM` (an SQL expression of `value`). */
  normalize: (value: string) => string;
}

// Types whose `=` is missing or compares something else than the value (areas, for boxes).
const NO_EQUALITY = new Set(['xml', 'point', 'line', 'lseg', 'box', 'path', 'polygon', 'circle']);

function normalizerFor(base: string, element: string | null): (value: string) => string {
  if (base === 'json') return (value) => `${value}::jsonb`;
  if (element === 'json') return (value) => `${value}::jsonb[]`;
  if (NO_EQUALITY.has(base) || (element !== null && NO_EQUALITY.has(element))) return (value) => `${value}::text`;
  return (value) => value;
}

/** The replica columns whose content a diff compares with the state the master publishes. */
export class ContentComparison {
  private constructor(private readonly replica: ReplicaTarget, private readonly columns: Map<string, ComparedColumn>) {}

  /**
   * The comparison for one replica, or why its content cannot be compared: a replica class with
   * `onCqrsCreate` / `onCqrsUpdate` writes what its handlers decide, which no diff can predict.
   */
  static async of(tx: EntityManager, session: SqlSession, replica: ReplicaTarget): Promise<ContentComparison | { skipped: string }> {
    const handlers = entityClassOf(tx, replica.entity) as ReplicaHandlers | undefined;
    if (handlers?.onCqrsCreate || handlers?.onCqrsUpdate) {
      return { skipped: `${replica.entity} applies messages through its own onCqrsCreate/onCqrsUpdate handlers, so the content they write cannot be ` +
        `compared: only revisions and missing or extra rows were compared for '${replica.cqrsId}'` };
    }
    const sync = EntitySync.forEntityManager(tx);
    const node = sync.graph.node(replica.entity);
    const relations = new Set(sync.graph.needs(replica.entity).map((edge) => edge.property));
    const byProperty = new Map<string, string[]>();
    for (const column of node.columns) byProperty.set(column.property, [...byProperty.get(column.property) ?? [], column.name]);
    const types = new Map((await session.query<{ name: string; base: string; element: string | null }>(
      'SELECT a.attname AS name, b.typname AS base, e.typname AS element FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid ' +
      "JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END " +
      "LEFT JOIN pg_type e ON e.oid = b.typelem AND b.typcategory = 'A' " +
      'WHERE a.attrelid = to_regclass(?::text) AND a.attnum > 0 AND NOT a.attisdropped', [replica.qualified])).map((row) => [row.name, row]));
    const columns = new Map<string, ComparedColumn>();
    for (const [property, names] of byProperty) {
      const type = types.get(names[0]!);
      // a composite foreign key, an inline embeddable: no single column holds the property's value
      if (names.length !== 1 || !type || node.primaryKeyProperties.includes(property)) continue;
      columns.set(property, { property, column: names[0]!, relation: relations.has(property), normalize: normalizerFor(type.base, type.element) });
    }
    return new ContentComparison(replica, columns);
  }

  /** True when no column can be compared (a replica of keys only). */
  get empty(): boolean {
    return this.columns.size === 0;
  }

  /** What an apply of `state` writes into the compared columns, by column name: the replica's `fields` mapping applied. */
  data(state: Record<string, unknown>): Record<string, unknown> {
    const data: Record<string, unknown> = {};
    for (const [property, value] of Object.entries(mapFields(state, this.replica))) {
      const column = this.columns.get(property);
      if (!column || value === undefined || (column.relation && value !== null && typeof value === 'object')) continue;
      data[column.column] = value;
    }
    return data;
  }

  /**
   * The compared columns among `carried` (those some master state sets), each as the SQL of its
   * value in the record `row`, normalized as the classification compares it.
   */
  values(row: string, carried: ReadonlySet<string>): string[] {
    return [...this.columns.values()].filter((column) => carried.has(column.column)).map((column) => column.normalize(`${row}.${ident(column.column)}`));
  }

  /**
   * SQL for the `text[]` of the replica properties whose column in the record `row` differs from
   * the same column of the record `populated` (the `data` jsonb as a row of the replica table),
   * among the columns `data` holds; empty when none differs.
   */
  differing(data: string, populated: string, row: string): string {
    const side = (record: string, column: ComparedColumn) => column.normalize(`(${record}).${ident(column.column)}`);
    const checks = [...this.columns.values()].map((column) => `CASE WHEN jsonb_exists(${data}, ${literal(column.column)}) AND ` +
      `${side(populated, column)} IS DISTINCT FROM ${side(row, column)} THEN ${literal(column.property)} END`);
    return `array_remove(ARRAY[${checks.join(', ')}]::text[], NULL)`;
  }
}
