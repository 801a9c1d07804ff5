import { OptionError, type DiffSource } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { entityNameOf, findPageByCursor, numericProperties, plainOfEntity, propertyNames } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';

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

/**
 * Rows of an entity as a diff source, read a page at a time in key order (MikroORM's cursor
 * pagination), each record a plain object of its properties (relations as their ids). Keyed by
 * numbers, it says it is sorted (`sortedBy`) and a diff merges it in constant memory; texts order
 * by the database's collation, which need not be the diff's code point order, so a text key is
 * hashed.
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
  return {
    name: `entity ${name}`,
    ...(numericProperties(em, name, key) ? { sortedBy: key.length === 1 ? key[0]! : key } : {}),
    async *records(signal) {
      let after: string | undefined;
      do {
        signal?.throwIfAborted();
        // a fresh unit of work per page, so that the rows read are not kept; inside the caller's transaction, its own
        const page = await findPageByCursor(em.isInTransaction() ? em : em.fork(), name, options.where ?? {}, key, pageSize, after, fields);
        for (const item of page.items) {
          const plain = plainOfEntity(item);
          yield fields ? Object.fromEntries(fields.map((field) => [field, plain[field]])) : plain;
        }
        after = page.next;
      } while (after);
    },
  };
}
