import {
  NaturalKeyError,
  SetupError,
  type NaturalKey,
  type NaturalKeyValue,
  type RegistryEntry,
  type RelationGraph,
} from '@entity-sync/core';
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import {
  ensureLoaded,
  isOwnOrmCopy,
  ownOrmCopyPath,
  entityNameOf,
  extensionOfEntityManager,
  findByFilter,
  getExtension,
  logWarning,
  prepareConnections,
  propertyValue,
  readEntities,
  setExtension,
  whenDiscovered,
  type EntityInfo,
} from './compat.js';
import { buildRelationGraph } from './graph-builder.js';
import type { ResolvedNaturalKey } from './natural-key-paths.js';
import { validateRegistry, type RegistryWarning } from './registry-validator.js';

const EXTENSION_NAME = '@entity-sync/mikro-orm';

function notAttached(): never {
  throw SetupError.notAttached();
}

/** Options of the MikroORM extension. */
export interface EntitySyncOptions {
  /** Receives registry warnings (a natural key without a unique constraint). Default: MikroORM's logger. */
  onWarning?: (warning: RegistryWarning) => void;
}

/** Options of the lookups that query the database. */
export interface LookupOptions {
  /** The entity manager to query with; a fork of the ORM's when omitted. */
  em?: EntityManager;
}

/** An entity class, an `EntitySchema`, or an entity name. */
export type EntityRef = string | Function | object;

/**
 * The MikroORM extension: builds the relation graph and checks the registry once after
 * discovery, then answers natural-key questions.
 *
 * @example
 * ```ts
 * const orm = await MikroORM.init({ ...config, extensions: [EntitySync] });
 * const sync = EntitySync.of(orm);
 * const fr = await sync.findByNaturalKey(Language, { 'country.code': 'FR', code: 'fr' });
 * ```
 */
export class EntitySync {
  /** Every entity and relation of the ORM, both directions of every foreign key. */
  readonly graph: RelationGraph;
  /** What the registry check found worth a warning. */
  readonly warnings: readonly RegistryWarning[];
  private readonly entries: Map<string, RegistryEntry>;
  private readonly naturalKeys: Map<string, ResolvedNaturalKey>;

  /**
   * Entry point for `extensions: [EntitySync]`. MikroORM 6 calls it after discovery, MikroORM 7
   * before: entity-sync then sets itself up from discovery's `afterDiscovered` hook.
   */
  static register(orm: MikroORM): void {
    EntitySync.configure({}).register(orm);
  }

  /** An extension with options, for `extensions: [EntitySync.configure({ onWarning })]`. */
  static configure(options: EntitySyncOptions): { register(orm: MikroORM): void } {
    return {
      register: (orm) => {
        refuseOtherOrmCopy(orm);
        prepareConnections(orm);
        whenDiscovered(orm, (entities) => void EntitySync.attachWith(orm, options, entities));
      },
    };
  }

  /** Attaches entity-sync to an ORM that is already initialized (or returns the attached instance). */
  static attach(orm: MikroORM, options: EntitySyncOptions = {}): EntitySync {
    refuseOtherOrmCopy(orm);
    prepareConnections(orm);
    return EntitySync.attachWith(orm, options, undefined);
  }

  private static attachWith(orm: MikroORM, options: EntitySyncOptions, entities: EntityInfo[] | undefined): EntitySync {
    const existing = getExtension<EntitySync>(orm, EXTENSION_NAME);
    if (existing) return existing;
    const instance = new EntitySync(orm, options, entities ?? readEntities(orm));
    setExtension(orm, EXTENSION_NAME, instance);
    return instance;
  }

  /** The instance attached to `orm`; throws `EXTENSION_NOT_REGISTERED` when there is none. */
  static of(orm: MikroORM): EntitySync {
    return getExtension<EntitySync>(orm, EXTENSION_NAME) ?? notAttached();
  }

  /** The instance attached to the ORM that `em` belongs to; throws `EXTENSION_NOT_REGISTERED` when there is none. */
  static forEntityManager(em: EntityManager): EntitySync {
    return extensionOfEntityManager<EntitySync>(em, EXTENSION_NAME) ?? notAttached();
  }

  private constructor(private readonly orm: MikroORM, options: EntitySyncOptions, entities: EntityInfo[]) {
    this.graph = buildRelationGraph(entities);
    const registry = validateRegistry(entities);
    this.entries = registry.entries;
    this.naturalKeys = registry.naturalKeys;
    this.warnings = registry.warnings;
    for (const warning of registry.warnings) {
      if (options.onWarning) options.onWarning(warning);
      else logWarning(orm, warning.message);
    }
  }

  /** What the registry holds for an entity of this ORM. */
  registryEntry(entity: EntityRef): RegistryEntry | undefined {
    return this.entries.get(entityNameOf(entity));
  }

  /** The `@SyncModel` entities of this ORM that have a table of their own (not pivots), in the graph's order. */
  syncModelNames(): string[] {
    return [...this.graph.nodes.values()].filter((node) => !node.pivot && this.registryEntry(node.name)?.syncModel).map((node) => node.name);
  }

  /**
   * What the entity's `@SyncModel({ referenceData })` says (undefined when it says nothing). Reference data (products,
   * employees, countries) is what many rows point at without belonging to it; a delete plan's
   * `outside` list does not flag rows for pointing at it.
   */
  isReferenceData(entity: EntityRef): boolean | undefined {
    return this.registryEntry(entity)?.syncModel?.referenceData;
  }

  /** The entity's natural key as full scalar paths; throws `NATURAL_KEY_UNDEFINED` when it has none. */
  naturalKeyPaths(entity: EntityRef): string[] {
    const name = entityNameOf(entity);
    const key = this.naturalKeys.get(name);
    if (!key) throw NaturalKeyError.undefinedFor(name);
    return [...key.paths];
  }

  /** The entity properties its natural key starts from (`['language', 'key']`), or undefined when it has none. */
  naturalKeyProperties(entity: EntityRef): string[] | undefined {
    const key = this.naturalKeys.get(entityNameOf(entity));
    return key ? [...new Set(key.declared.map((path) => path.split('.')[0]!))] : undefined;
  }

  /** A MikroORM filter that selects the row named by `key`. */
  naturalKeyFilter(entity: EntityRef, key: NaturalKey | NaturalKeyValue[]): Record<string, unknown> {
    const name = entityNameOf(entity);
    const paths = this.naturalKeyPaths(name);
    const values = Array.isArray(key) ? key : paths.map((path) => key[path]);
    const filter: Record<string, unknown> = {};
    paths.forEach((path, i) => {
      const value = values[i];
      if (value === undefined) throw NaturalKeyError.incomplete(name, path);
      const segments = path.split('.');
      let level = filter;
      for (const segment of segments.slice(0, -1)) {
        level = (level[segment] ??= {}) as Record<string, unknown>;
      }
      level[segments.at(-1)!] = value;
    });
    return filter;
  }

  /** The natural key of a loaded entity, loading the relations its paths go through. */
  async naturalKeyOf(entity: object): Promise<NaturalKey> {
    const name = entityNameOf(entity.constructor);
    const key: NaturalKey = {};
    for (const path of this.naturalKeyPaths(name)) {
      let value: unknown = entity;
      for (const segment of path.split('.')) {
        if (value === null || value === undefined) break;
        value = propertyValue(await ensureLoaded(value as object), segment);
      }
      if (value === undefined) throw NaturalKeyError.incomplete(name, path);
      key[path] = value as NaturalKeyValue;
    }
    return key;
  }

  /** The row named by `key`, or null; throws `NATURAL_KEY_AMBIGUOUS` when several rows match. */
  async findByNaturalKey<T extends object>(entity: EntityRef, key: NaturalKey | NaturalKeyValue[], options: LookupOptions = {}): Promise<T | null> {
    const name = entityNameOf(entity);
    const filter = this.naturalKeyFilter(name, key);
    const em = options.em ?? this.orm.em.fork();
    const rows = await findByFilter<T>(em, name, filter, 2);
    if (rows.length > 1) {
      const named = Array.isArray(key) ? Object.fromEntries(this.naturalKeyPaths(name).map((path, i) => [path, key[i]])) : key;
      throw NaturalKeyError.ambiguous(name, named);
    }
    return rows[0] ?? null;
  }
}

/** An ORM built from another copy of @mikro-orm/core has entities this copy cannot see. */
function refuseOtherOrmCopy(orm: MikroORM): void {
  if (!isOwnOrmCopy(orm)) {
    throw SetupError.duplicateOrmCopy(ownOrmCopyPath());
  }
}
