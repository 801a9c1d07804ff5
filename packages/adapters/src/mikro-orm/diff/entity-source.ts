import { OptionError, type DiffCandidates, type DiffSource, type NarrowRequest } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { SqlSession } from '../../internal/pg/sql-session.js';
import { checkEntityManager } from '../extension/arguments.js';
import {
  anyNullable, entityNameOf, entityRows, findAllByFilter, findPageByCursor, inTransaction, numericProperties, plainOfEntity, propertyColumns, propertyNames,
} from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { failed, narrowInSession, sessionConnection } from '../../internal/pg/table-compare.js';

/** Options of `fromEntity`. */
export interface EntitySourceOptions {
  /** A MikroORM filter: only these rows (default all). */
  where?: object;
  /** The properties each record carries besides the key (default every one: relations as their ids). */
  fields?: string[];
  /**
   * The properties records are keyed and read in order by: default the `@SyncModel` natural key
   * when its paths are properties of the entity itself, else the primary key.
   */
  key?: string | string[];
  /** Rows read a page at a time (default 1,000). */
  pageSize?: number;
}

/** How a `fromEntity` source reads its records, for `narrow` to recognize the other side. */
interface EntityRead {
  em: EntityManager;
  name: string;
  where: object;
  /** The properties records carry (the key's too); undefined: every one. */
  fields?: string[];
  key: string[];
  record(item: object): Record<string, unknown>;
}

const reads = new WeakMap<object, EntityRead>();

/** The filter of the rows with a null in a part of the key. */
const nullKeyFilter = (key: string[]) => ({ $or: key.map((property) => ({ [property]: null })) });

/** Keys read a query at a time when the records that may differ are fetched. */
const FETCH_BATCH = 1000;

/**
 * Rows of an entity as a diff source, read a page at a time in key order (MikroORM's cursor
 * pagination), each record a plain object of its properties (relations as their ids). Keyed by
 * numbers, it says it is sorted (`sortedBy`) and a diff merges it in constant memory; texts order
 * by the database's collation, which need not be the diff's code point order, so a text key is
 * hashed. Against another `fromEntity` source of the same ORM, the two are compared in their
 * database by one query (`sql`), and only the rows that may differ are read; when a compared
 * property is not one column of its table, or the two read a property differently, or a filter
 * or single-table inheritance applies, both are read whole.
 *
 * @example
 * ```ts
 * const students = fromEntity(orm.em.fork(), Student, { where: { active: true }, fields: ['name', 'homeroom'] });
 * const { actions } = await diff(roster, students, { key: 'studentNo' });
 * ```
 */
export function fromEntity(em: EntityManager, entity: string | (abstract new (...args: never[]) => unknown), options: EntitySourceOptions = {}): DiffSource<Record<string, unknown>> {
  checkEntityManager('fromEntity', em, "fromEntity(orm.em.fork(), Student, { where: { active: true } })");
  const name = typeof entity === 'string' ? entity : entityNameOf(entity);
  const sync = EntitySync.forEntityManager(em);
  const node = sync.graph.node(name);
  const known = propertyNames(em, name);
  const natural = sync.registryEntry(name)?.syncModel?.naturalKey;
  const key = options.key === undefined ? (natural?.every((path) => known.has(path)) ? natural : node.primaryKeyProperties) : [options.key].flat();
  const unknown = [...key, ...(options.fields ?? [])].filter((property) => !known.has(property));
  if (unknown.length) throw OptionError.invalid('fromEntity', options.key !== undefined && unknown.some((p) => key.includes(p)) ? 'key' : 'fields', unknown, `properties of ${name} (${[...known].join(', ')})`);
  const pageSize = options.pageSize ?? 1000;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw OptionError.invalid('fromEntity', 'pageSize', options.pageSize, 'a whole number of 1 or more');
  const fields = options.fields ? [...new Set([...key, ...options.fields])] : undefined;
  const record = (item: object) => {
    const plain = plainOfEntity(item);
    return fields ? Object.fromEntries(fields.map((field) => [field, plain[field]])) : plain;
  };
  const read: EntityRead = { em, name, where: options.where ?? {}, key, record, ...(fields ? { fields } : {}) };
  const source: DiffSource<Record<string, unknown>> = {
    name: `entity ${name}`,
    ...(numericProperties(em, name, key) ? { sortedBy: key.length === 1 ? key[0]! : key } : {}),
    narrow: async (other, request) => {
      const theirs = reads.get(other);
      if (!theirs || !oneDatabase(em, theirs.em)) return undefined;
      return narrowEntities(read, theirs, request).catch((error: unknown) => {
        throw failed(error, `${source.name} against ${other.name}`, request.signal);
      });
    },
    async *records(signal) {
      // a cursor cannot page past a null: the rows with a whole key page by cursor, then those without one are read
      const nullable = anyNullable(em, name, key);
      const where = nullable ? { $and: [read.where, ...key.map((property) => ({ [property]: { $ne: null } }))] } : read.where;
      let after: string | undefined;
      do {
        signal?.throwIfAborted();
        // a fresh unit of work per page, so that the rows read are not kept; inside the caller's transaction, its own
        const page = await findPageByCursor(em.isInTransaction() ? em : em.fork(), name, where, key, pageSize, after, fields);
        for (const item of page.items) yield record(item);
        after = page.next;
      } while (after);
      if (!nullable) return;
      const nulls = await findAllByFilter(em.isInTransaction() ? em : em.fork(), name, { $and: [read.where, nullKeyFilter(key)] }, fields);
      for (const item of nulls) yield record(item);
    },
  };
  reads.set(source, read);
  return source;
}

/** Two entity managers read one database in one snapshot: forks of one ORM, not in two different transactions. */
function oneDatabase(a: EntityManager, b: EntityManager): boolean {
  if (a.getDriver() !== b.getDriver()) return false;
  const [x, y] = [a.getTransactionContext(), b.getTransactionContext()];
  return !x || !y || x === y;
}

/**
 * The records of two entities of one database that may differ, found by one query joining their
 * rows by key in the left's transaction (a snapshot of its own when it is in none); the records
 * of those keys, and of null keys, are then read through the ORM as `records()` reads them.
 * Undefined when the rows cannot be compared as stored (see `fromEntity`).
 */
async function narrowEntities(left: EntityRead, right: EntityRead, request: NarrowRequest): Promise<DiffCandidates | undefined> {
  return inTransaction(left.em, async (tx) => {
    const keys = new Set(request.key);
    // the fields a diff compares by default: the left record's own, as the first one shows them
    let fields = request.fields ?? left.fields?.filter((field) => !keys.has(field));
    if (!fields) {
      const [first] = (await findPageByCursor(tx, left.name, left.where, left.key, 1)).items;
      if (!first) return undefined;
      fields = Object.keys(left.record(first)).filter((field) => !keys.has(field));
    }
    const carried = (read: EntityRead, field: string) => !read.fields || read.fields.includes(field);
    if (!fields.every((field) => carried(left, field) && carried(right, field))) return undefined;
    const properties = [...request.key, ...fields];
    const [mine, theirs] = [propertyColumns(tx, left.name, properties), propertyColumns(tx, right.name, properties)];
    if (mine.some((column, i) => !column || column.make !== theirs[i]?.make)) return undefined;
    const [leftRows, rightRows] = [entityRows(tx, left.name, left.where), entityRows(tx, right.name, right.where)];
    if (!leftRows || !rightRows) return undefined;
    const relation = (rows: { table: string; from: string }, columns: typeof mine) =>
      ({ qualified: rows.table, from: rows.from, key: columns.slice(0, request.key.length).map((c) => c!.column), columns: columns.slice(request.key.length).map((c) => c!.column) });

    const session = await SqlSession.open(tx, request.signal);
    const connection = sessionConnection(session);
    const [l, r] = [relation(leftRows, mine), relation(rightRows, theirs)];
    const found = await narrowInSession(connection, l, r, [l.columns, r.columns]);
    if (!found) return undefined;
    // the rows of those keys through the ORM, in batches; then those with a null key part
    const fetch = async (read: EntityRead, nullable: boolean) => {
      const records: Record<string, unknown>[] = [];
      const byKey = (parts: string[]) => Object.fromEntries(request.key.map((property, i) => [property, parts[i]]));
      const filters: object[] = [];
      for (let at = 0; at < found.keys.length; at += FETCH_BATCH) {
        const batch = found.keys.slice(at, at + FETCH_BATCH);
        filters.push(request.key.length === 1 ? { [request.key[0]!]: { $in: batch.map((parts) => parts[0]) } } : { $or: batch.map(byKey) });
      }
      if (nullable) filters.push(nullKeyFilter(request.key));
      for (const filter of filters) {
        request.signal?.throwIfAborted();
        for (const item of await findAllByFilter(tx, read.name, { $and: [read.where, filter] }, read.fields)) records.push(read.record(item));
      }
      return records;
    };
    const lefts = await fetch(left, found.nullable[0]);
    const rights = await fetch(right, found.nullable[1]);
    const wholeKeyed = lefts.filter((item) => request.key.every((property) => item[property] !== null && item[property] !== undefined)).length;
    found.stats.rowsFetched = lefts.length + rights.length;
    found.stats.queries = connection.queries;
    return { strategy: 'sql' as const, left: lefts, right: rights, unchanged: found.leftTotal - wholeKeyed, stats: found.stats };
  }, 'repeatable read');
}
