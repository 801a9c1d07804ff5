/** A class an entity is made from, or an `EntitySchema` instance: what the registry is keyed by. */
export type EntityTarget = abstract new (...args: never[]) => unknown;

/** Options of `@SyncModel` / `registerSyncModel`. */
export interface SyncModelOptions {
  /**
   * Dotted property paths whose values name a row across databases, e.g.
   * `['country.code', 'code']`. A path may end at a to-one relation, which stands
   * for that entity's own natural key (or primary key when it has none).
   */
  naturalKey?: string[];
  /**
   * Only these properties are exported, synced and published in CQRS messages. The primary
   * key is always kept, listed or not.
   */
  include?: string[];
  /**
   * These properties are never exported, synced or published in CQRS messages. A
   * primary-key property cannot be excluded: rows are matched across databases by it.
   */
  exclude?: string[];
  /** Properties that hold a reference to a file in storage. Validated; files do not travel yet (environment sync brings them). */
  fileFields?: string[];
  /**
   * `true` marks reference data (products, employees, countries): what many rows point at without
   * belonging to it. A delete plan's `outside` list does not flag rows for pointing at it. `false`
   * says the opposite of an entity that looks like reference data (one whose foreign keys are all
   * nullable, such as customers). Unset, the delete plan decides by the entity's shape.
   */
  referenceData?: boolean;
  /**
   * The property that names the tenant a row belongs to (a scalar, or a to-one relation whose id
   * names it), for the push/pull sync API: a client sees and changes only the rows of the tenant
   * it syncs. Entities without one are shared by every tenant.
   */
  tenant?: string;
  /**
   * Records every change of the entity's rows in the audit trail (`installAudit`): who, when, the
   * operation, the row's key, and the changed columns' old and new values. `true`, or the trail's options.
   */
  audit?: boolean | AuditOptions;
}

/** Options of an entity's audit trail (`@SyncModel({ audit: { ... } })`). */
export interface AuditOptions {
  /** Properties whose values are never recorded, besides those `@SyncModel({ exclude })` leaves out (a password hash, a token). */
  exclude?: string[];
  /** What `pruneAudit` keeps of the entity's trail: entries of the last `days`, and of them at most the newest `keep`. */
  retention?: AuditRetention;
}

/** How much of an audit trail is kept: by age, by count, or both (an entry goes when either says so). */
export interface AuditRetention {
  /** Entries older than this many days go. */
  days?: number;
  /** At most this many entries stay (the newest). */
  keep?: number;
}

/** Turns an entity into the state a message carries. */
/**
 * Builds a message's state from the entity as committed. `context.em` is the relay's entity
 * manager: load related entities through it to embed them.
 */
export type SerializeFn<T = any> = (entity: T, context: { em: any }) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** Options of `@Master` / `registerMaster`. */
export interface MasterOptions<T = any> {
  /** `false` keeps the entity's revision counting but publishes nothing. Default `true`. */
  produce?: boolean;
  /** Returns false for rows that must not be published. */
  shouldSync?: (entity: T) => boolean;
  /** A serialize function, or a class-transformer class the entity is converted to. */
  serializer?: SerializeFn<T> | (new (...args: any[]) => unknown);
  /** Only these properties are published (besides the primary key). */
  include?: string[];
  /** These properties are never published. */
  exclude?: string[];
  /** Messages expire this many seconds after the change: a replica that gets one later dead-letters it unapplied. */
  expiresAfterSeconds?: number;
}

/** How one incoming field becomes a replica property. */
export type ReplicaFieldMapping = string | null | { to?: string; transform?: (value: unknown) => unknown };

/** Options of `@Replica` / `registerReplica`. */
export interface ReplicaOptions {
  /** Incoming field name to replica mapping: a new name, `null` to drop it, or a rename with a transform. */
  fields?: Record<string, ReplicaFieldMapping>;
  /** The queue (replica service) this replica consumes from. Defaults to the transport's. */
  queue?: string;
}

/** What the registry holds for one entity. */
export interface RegistryEntry {
  /** The decorated class or the `EntitySchema` passed to a `register*` call. */
  readonly target: object;
  /** The entity name used in messages (the class or schema name). */
  readonly name: string;
  syncModel?: SyncModelOptions;
  /** How discovery rules (`discoverSyncModels`) touched the entity: served by them, and the properties they dropped. */
  discovery?: { discovered: boolean; dropped: string[] };
  master?: { cqrsId: string; options: MasterOptions };
  replica?: { cqrsId: string; options: ReplicaOptions };
}

/** Which entities the sync API serves besides those marked `@SyncModel`, and which properties no served model ever carries. */
export interface DiscoveryRules {
  /**
   * Entities to serve as if marked `@SyncModel()`: names or name patterns, or a test of the
   * entity's metadata (its name, table, schema and property names).
   */
  include?: (string | RegExp)[] | ((entity: DiscoveredEntity) => boolean);
  /** Entities never served by discovery, though `include` names them (a decorated entity is served still). */
  exclude?: (string | RegExp)[];
  /**
   * Properties left out of every served model, decorated or discovered (never exported, synced or
   * published), by name or pattern: `/password|secret|token/i`. A primary-key or natural-key
   * property is kept: rows are matched by it.
   */
  dropFields?: RegExp | (string | RegExp)[];
}

/** What a discovery rule is shown of an entity. */
export interface DiscoveredEntity {
  name: string;
  tableName: string;
  schema?: string;
  properties: string[];
}
