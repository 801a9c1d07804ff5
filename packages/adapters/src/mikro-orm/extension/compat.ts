// Every call that depends on MikroORM's API lives here, for MikroORM 6 and 7 alike (the
// kysely connections of 7 in compat-v7.ts). The rest of the adapter reads the plain shapes below.
import {
  EntityManager,
  EntitySchema,
  IsolationLevel,
  MikroORM,
  MetadataStorage,
  Utils,
  wrap,
  type EntityMetadata,
  type EntityProperty,
} from '@mikro-orm/core';
import { acquireDriverConnectionV7, recordPgliteTransactions, transactionConnectionV7 } from './compat-v7.js';

// the major version of the MikroORM in use (6 or 7)
const v7 = Number(Utils.getORMVersion().split('.')[0]) >= 7;

// Entity names are plain strings here; MikroORM 7 still resolves them but types them out.
const byName = (entity: string) => entity as never;

/** The relation kinds as this adapter spells them. */
export type PropertyKind = 'scalar' | 'embedded' | 'm:1' | '1:1' | '1:m' | 'm:n';

/** What the adapter needs to know of one property. */
export interface PropertyInfo {
  name: string;
  kind: PropertyKind;
  fieldNames: string[];
  columnTypes: string[];
  nullable: boolean;
  primary: boolean;
  autoincrement: boolean;
  /** Stored in a column of this entity's table. */
  persist: boolean;
  /** Holds the foreign key (to-one) or owns the pivot table (many-to-many). */
  owner: boolean;
  mappedBy?: string;
  inversedBy?: string;
  /** Entity name the relation points at. */
  target?: string;
  joinColumns: string[];
  inverseJoinColumns: string[];
  referencedColumnNames: string[];
  pivotEntity?: string;
  /** Path inside an embeddable (`['address', 'street']`). */
  embeddedPath?: string[];
  /** An embeddable stored as one JSON column. */
  embeddedAsObject: boolean;
  /** Declared unique on its own. */
  unique: boolean;
  /** Added by MikroORM, not declared by the app (the hidden inverse of a one-sided many-to-many). */
  synthetic: boolean;
}

/** What the adapter needs to know of one entity. */
export interface EntityInfo {
  className: string;
  tableName: string;
  schema?: string;
  /** The class MikroORM instantiates; the registry key of decorated entities. */
  class: Function;
  /** The `EntitySchema` object this ORM built the entity from, when that can be told (not for entities found through folder paths). */
  entitySchema?: object;
  pivot: boolean;
  /** Embeddables, virtual and abstract entities have no table of their own. */
  hasTable: boolean;
  primaryKeys: string[];
  /** Property sets declared unique together (`@Unique`), besides single `unique: true` properties. */
  uniques: string[][];
  /** Single-table inheritance: the root entity, its discriminator column, and this entity's value. */
  inheritance?: { root: string; discriminatorColumn: string; discriminatorValue?: string };
  props: PropertyInfo[];
}

function propertyInfo(prop: EntityProperty): PropertyInfo {
  return {
    name: prop.name,
    kind: prop.kind as PropertyKind,
    fieldNames: prop.fieldNames ?? [],
    columnTypes: prop.columnTypes ?? [],
    nullable: !!prop.nullable,
    primary: !!prop.primary,
    autoincrement: !!prop.autoincrement,
    persist: prop.persist !== false,
    owner: !!prop.owner,
    mappedBy: prop.mappedBy || undefined,
    inversedBy: prop.inversedBy || undefined,
    target: prop.targetMeta?.className ?? (prop.kind === 'scalar' || prop.kind === 'embedded' ? undefined : prop.type),
    joinColumns: prop.joinColumns ?? [],
    inverseJoinColumns: prop.inverseJoinColumns ?? [],
    referencedColumnNames: prop.referencedColumnNames ?? [],
    pivotEntity: prop.pivotEntity ? Utils.className(prop.pivotEntity) : undefined,
    embeddedPath: prop.embedded ? [...prop.embedded] : undefined,
    embeddedAsObject: !!prop.object,
    unique: prop.unique === true,
    synthetic: prop.kind === 'm:n' && !prop.owner && prop.persist === false && prop.hydrate === false,
  };
}

function entityInfo(meta: EntityMetadata, schemas: Map<string, EntitySchema>): EntityInfo {
  const root = meta.root ?? meta;
  const sti = root.discriminatorColumn !== undefined;
  return {
    className: meta.className,
    tableName: meta.tableName,
    schema: meta.schema && meta.schema !== '*' ? meta.schema : undefined,
    class: meta.class,
    entitySchema: schemas.get(meta.className) ?? EntitySchema.REGISTRY.get(meta.class),
    pivot: !!meta.pivotTable,
    hasTable: !meta.embeddable && !meta.virtual && !(meta.abstract && !sti) && !!meta.tableName,
    primaryKeys: [...meta.primaryKeys],
    uniques: (meta.uniques ?? [])
      .map((unique) => [unique.properties ?? []].flat().map(String))
      .filter((properties) => properties.length > 0),
    inheritance: sti
      ? { root: root.className, discriminatorColumn: root.discriminatorColumn as string, discriminatorValue: meta.discriminatorValue as string | undefined }
      : undefined,
    props: meta.props.map(propertyInfo),
  };
}

// What MikroORM itself resolves an `entities` item or a relation target to: the schema
// object, or the schema a class is linked to with `class:`.
function asSchema(target: unknown): EntitySchema | undefined {
  if (target instanceof EntitySchema) return target;
  return typeof target === 'function' ? EntitySchema.REGISTRY.get(target) : undefined;
}

// Discovery works on copies of each EntitySchema's metadata (a schema without `class:` even
// gets a fresh class per ORM), so nothing in the discovered metadata points back at the
// schema object. What does is what the ORM was given: its `entities`, then the relation
// targets and bases MikroORM discovered from them, first one per name, as discovery does.
function schemaObjects(orm: MikroORM, metas: EntityMetadata[]): Map<string, EntitySchema> {
  const schemas = new Map<string, EntitySchema>();
  const add = (target: unknown) => {
    for (const item of Utils.asArray(target)) {
      const schema = asSchema(item);
      if (schema && !schemas.has(schema.meta.className)) schemas.set(schema.meta.className, schema);
    }
  };
  // the list discovery read, chosen as MikroORM.init chooses it
  const preferTs = orm.config.get('preferTs') ?? (v7 && (Utils as { detectTypeScriptSupport?(): boolean }).detectTypeScriptSupport?.());
  const listed = preferTs && orm.config.get('entitiesTs').length > 0 ? 'entitiesTs' : 'entities';
  for (const item of orm.config.get(listed)) add(item);
  for (const meta of metas) {
    add(meta.extends);
    for (const prop of meta.props) {
      if (typeof prop.entity === 'function') add(prop.entity());
    }
  }
  return schemas;
}

/** Every discovered entity of `orm` (or of the metadata discovery just built), in discovery order. */
export function readEntities(orm: MikroORM, storage: MetadataStorage = orm.getMetadata()): EntityInfo[] {
  const metas = [...storage];
  const schemas = schemaObjects(orm, metas);
  return metas.map((meta) => entityInfo(meta, schemas));
}

/**
 * Calls `ready` with the ORM's entities once discovery has run: at once when it has (MikroORM 6
 * registers extensions after discovery, and any ORM after `init`), else from discovery's
 * `afterDiscovered` hook, after the app's own (MikroORM 7 registers extensions before
 * discovery). An error thrown by `ready` rejects `MikroORM.init`.
 */
export function whenDiscovered(orm: MikroORM, ready: (entities: EntityInfo[]) => void): void {
  const storage = orm.getMetadata() as MetadataStorage | undefined;
  if (storage) return ready(readEntities(orm, storage));
  type Hook = (storage: MetadataStorage, platform: unknown) => unknown;
  const discovery = orm.config.get('discovery') as { afterDiscovered?: Hook };
  const before = discovery.afterDiscovered;
  const afterDiscovered: Hook = (discovered, platform) => {
    const done = before?.(discovered, platform);
    return done instanceof Promise ? done.then(() => ready(readEntities(orm, discovered))) : ready(readEntities(orm, discovered));
  };
  orm.config.set('discovery', { ...discovery, afterDiscovered } as never);
}

/** Prepares the ORM's connections for raw statements; call before the ORM first connects. */
export function prepareConnections(orm: MikroORM): void {
  if (v7) recordPgliteTransactions(orm);
}

/** True when `target` carries MikroORM decorator metadata, whichever ORM instance it belongs to. */
export function hasEntityDecorators(target: object): boolean {
  return typeof target === 'function' && Object.hasOwn(target, MetadataStorage.PATH_SYMBOL);
}

/** The entity name of an `EntitySchema` instance, or undefined for anything else. */
export function schemaClassName(target: object): string | undefined {
  return target instanceof EntitySchema ? target.meta.className : undefined;
}

/** The entity name of a class, an `EntitySchema`, an entity instance or a name. */
export function entityNameOf(entity: unknown): string {
  if (typeof entity === 'string') return entity;
  if (entity instanceof EntitySchema) return entity.meta.className;
  return Utils.className(entity as Function) ?? (entity as object).constructor.name;
}

/** Registers `instance` under `name` on the ORM's configuration, where `getExtension` finds it. */
export function setExtension(orm: MikroORM, name: string, instance: unknown): void {
  orm.config.registerExtension(name, () => instance);
}

/** The instance registered under `name`, if any. */
export function getExtension<T>(orm: MikroORM, name: string): T | undefined {
  return orm.config.getExtension<T>(name);
}

/** Logs a warning through MikroORM's logger, whatever its debug settings. */
export function logWarning(orm: MikroORM, message: string): void {
  orm.config.getLogger().warn('discovery', message, { enabled: true });
}

/** Loads `entity` from the database when it is an uninitialized reference; returns it initialized. */
export async function ensureLoaded<T extends object>(entity: T): Promise<T> {
  const wrapped = wrap(entity, true);
  if (!wrapped.isInitialized()) await wrapped.init();
  return entity;
}

/** The value of a property, unwrapping `Reference` wrappers. */
export function propertyValue(entity: object, property: string): unknown {
  const value = (entity as Record<string, unknown>)[property];
  return value !== null && typeof value === 'object' && typeof (value as { unwrap?: unknown }).unwrap === 'function'
    ? (value as { unwrap(): unknown }).unwrap()
    : value;
}

/** A new managed instance of `entity` (by name) holding `data`, persisted on the next flush. */
export function createByName<T extends object>(em: EntityManager, entity: string, data: Record<string, unknown>): T {
  return em.create<T>(byName(entity), data as never) as T;
}

/** Runs `findOne`-style queries for `entity` with a filter. */
export function findByFilter<T extends object>(em: EntityManager, entity: string, filter: object, limit: number): Promise<T[]> {
  return em.find<T>(byName(entity), filter as never, { limit }) as Promise<T[]>;
}

/** Every entity of `entity` a filter selects, with only `fields` loaded when given. */
export function findAllByFilter<T extends object>(em: EntityManager, entity: string, filter: object, fields?: string[]): Promise<T[]> {
  return em.find<T>(byName(entity), filter as never, (fields ? { fields } : {}) as never) as Promise<T[]>;
}

/** Runs `work` in a transaction on a fork of `em` (or joins the transaction `em` is in). */
export function inTransaction<T>(em: EntityManager, work: (em: EntityManager) => Promise<T>, isolation?: 'repeatable read'): Promise<T> {
  return em.transactional((tx) => work(tx), isolation ? { isolationLevel: IsolationLevel.REPEATABLE_READ } : {});
}

const flattenKey = (value: unknown): unknown[] =>
  Array.isArray(value) ? value.flatMap(flattenKey)
    : value !== null && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)
      ? Object.values(value).flatMap(flattenKey)
      : [value];

/** The primary-key values of a managed entity instance, flattened to columns (composite keys through relations too). */
export function primaryKeyValuesOf(entity: object): unknown[] {
  const keys = wrap(entity, true).getPrimaryKeys(true);
  if (!keys) throw new Error('entity has no primary key');
  return keys.flatMap(flattenKey);
}

/** Like `primaryKeyValuesOf`, but undefined while the instance has no key yet (not flushed) or is no entity at all. */
export function assignedPrimaryKeyOf(entity: object): unknown[] | undefined {
  const helper = wrap(entity, true) as { getPrimaryKeys?: (convert: boolean) => unknown[] | null } | undefined;
  const values = helper?.getPrimaryKeys?.(true)?.flatMap(flattenKey);
  return values && values.length > 0 && values.every((value) => value !== null && value !== undefined) ? values : undefined;
}

/** True when `value` is a MikroORM entity manager (of any copy of the library: checked by shape). */
export function isEntityManager(value: unknown): value is EntityManager {
  if (value instanceof EntityManager) return true;
  const candidate = value as Partial<Record<'fork' | 'transactional' | 'getMetadata' | 'getConnection', unknown>> | null;
  return typeof candidate === 'object' && candidate !== null && typeof candidate.fork === 'function' &&
    typeof candidate.transactional === 'function' && typeof candidate.getMetadata === 'function' && typeof candidate.getConnection === 'function';
}

/** True when `value` is a MikroORM instance (what people pass as `em` by mistake). */
export function isMikroOrm(value: unknown): boolean {
  return value instanceof MikroORM || (typeof value === 'object' && value !== null && isEntityManager((value as { em?: unknown }).em));
}

/** The entity manager's schema: the ORM's `schema` option, else `public`. */
export function defaultSchemaOf(em: EntityManager): string {
  return em.config.get('schema') ?? 'public';
}

/** The EntitySync-style extension registered on the ORM that owns `em`. */
export function extensionOfEntityManager<T>(em: EntityManager, name: string): T | undefined {
  return em.config.getExtension<T>(name);
}

/** The driver connection (a `pg` client or a PGlite instance) of the transaction `em` is in. */
export async function transactionConnection(em: EntityManager): Promise<unknown> {
  if (v7) return transactionConnectionV7(em);
  const trx = em.getTransactionContext<{ client: { acquireConnection(): Promise<unknown> } }>();
  if (!trx) throw new Error('a transaction is required for raw statements');
  return trx.client.acquireConnection();
}

/** Properties an insert of `entity` cannot do without: not nullable, no default, not generated, not a collection. */
export function requiredProperties(em: EntityManager, entity: string): string[] {
  const meta = em.getMetadata().find(byName(entity));
  if (!meta) return [];
  return meta.props
    .filter((prop) => (prop.kind === 'scalar' || prop.kind === 'm:1' || (prop.kind === '1:1' && prop.owner)) &&
      !prop.nullable && prop.default === undefined && prop.defaultRaw === undefined && !prop.onCreate &&
      !prop.autoincrement && prop.persist !== false && !prop.embedded && !prop.version)
    .map((prop) => prop.name);
}

/** The scalar properties of `entity` that hold a `Date` in the entity (a timestamp column), by name. */
export function dateProperties(em: EntityManager, entity: string): Set<string> {
  const meta = em.getMetadata().find(byName(entity));
  return new Set((meta?.props ?? []).filter((prop) => prop.kind === 'scalar' && prop.runtimeType === 'Date').map((prop) => prop.name));
}

/** The class of an entity, where its static CQRS handlers live. */
export function entityClassOf(em: EntityManager, entity: string): Function | undefined {
  return em.getMetadata().find(byName(entity))?.class;
}

/** A managed entity built from a database row (column names), without a query; relations become references. */
export function entityFromRow<T extends object>(em: EntityManager, entity: string, row: Record<string, unknown>): T {
  return em.map<T>(byName(entity), row as never) as T;
}

/** A plain object of an entity's properties (relations as primary keys, loaded relations embedded). */
export function plainOfEntity(entity: object): Record<string, unknown> {
  return wrap(entity, true).toObject() as Record<string, unknown>;
}

/** Takes a driver connection (a `pg` client or the PGlite instance) out of the ORM's pool, outside any transaction. */
export async function acquireDriverConnection(em: EntityManager): Promise<{ connection: unknown; release(): Promise<void> }> {
  if (v7) return acquireDriverConnectionV7(em);
  const client = (em.getConnection() as unknown as { getKnex(): { client: { acquireConnection(): Promise<unknown>; releaseConnection(c: unknown): Promise<void> } } }).getKnex().client;
  const connection = await client.acquireConnection();
  return { connection, release: () => client.releaseConnection(connection) };
}

/** `em` itself when it is in a transaction (to join it), else a fresh fork of it. */
export function forkOutsideTransaction(em: EntityManager): EntityManager {
  return em.isInTransaction() ? em : em.fork();
}

/** One page of a filtered entity's rows in the order of `properties` (ascending), by MikroORM's cursor pagination: the entities and the cursor of the next page. */
export async function findPageByCursor(em: EntityManager, entity: string, filter: object, properties: string[], size: number, after?: string, fields?: string[]):
  Promise<{ items: object[]; next?: string }> {
  const options = {
    first: size,
    after,
    orderBy: Object.fromEntries(properties.map((property) => [property, 'asc'])),
    ...(fields ? { fields } : {}),
    includeCount: false,
  };
  type Cursor = { items: object[]; hasNextPage: boolean; endCursor: string | null };
  const cursors = em as unknown as { findByCursor(entity: string, ...args: object[]): Promise<Cursor> };
  // MikroORM 7 takes the filter as the `where` option
  const cursor = v7 ? await cursors.findByCursor(entity, { where: filter, ...options }) : await cursors.findByCursor(entity, filter, options);
  return { items: cursor.items, next: cursor.hasNextPage ? cursor.endCursor ?? undefined : undefined };
}

/** One page of a filtered entity's primary keys (column values in key order), in primary-key order. */
export async function findKeysByCursor(em: EntityManager, entity: string, filter: object, properties: string[], size: number, after?: string):
  Promise<{ keys: unknown[][]; next?: string }> {
  const page = await findPageByCursor(em, entity, filter, properties, size, after, properties);
  return { keys: page.items.map((item) => primaryKeyValuesOf(item)), next: page.next };
}

/** Whether each of `properties` of `entity` holds numbers (its values order the same in JavaScript and PostgreSQL). */
export function numericProperties(em: EntityManager, entity: string, properties: string[]): boolean {
  const meta = em.getMetadata().find(byName(entity));
  return properties.every((name) => {
    const prop = meta?.properties[name] as { runtimeType?: string; type?: string } | undefined;
    return prop?.runtimeType === 'number' || prop?.runtimeType === 'bigint';
  });
}

/**
 * Where the rows of `entity` a filter selects are stored, for SQL that compares them as stored:
 * its table (quoted, schema-qualified when the entity names a schema) and a subquery of those
 * rows with every column of the table. Undefined when MikroORM's own reads could select other
 * rows or values than those columns hold (a filter, single-table inheritance, a view or virtual
 * entity, a schema per tenant).
 */
export function entityRows(em: EntityManager, entity: string, where: object): { table: string; from: string } | undefined {
  const meta = em.getMetadata().find(byName(entity));
  const config = em.config as unknown as { get(key: string): unknown };
  const filtered = Object.keys(meta?.filters ?? {}).length > 0 || Object.keys((config.get('filters') as object | undefined) ?? {}).length > 0 ||
    Object.keys((em as unknown as { filters?: object }).filters ?? {}).length > 0;
  if (!meta || filtered || meta.virtual || meta.expression || meta.embeddable || meta.discriminatorColumn || meta.root?.discriminatorColumn ||
    !meta.tableName || meta.schema === '*') return undefined;
  const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;
  const builders = em as unknown as { createQueryBuilder(entity: string, alias: string): { select(fields: string): { where(filter: object): { getFormattedQuery(): string } } } };
  const sql = builders.createQueryBuilder(meta.className, 'e').select('*').where(where).getFormattedQuery();
  return { table: `${quote(meta.schema ?? defaultSchemaOf(em))}.${quote(meta.tableName)}`, from: `(${sql}) AS t` };
}

/**
 * The column of the entity's table each of `properties` is read from, and what makes its values
 * (the property's type and column type; two properties with the same make read equal columns as
 * equal values). Undefined for a property that is not one column of that table: a formula, an
 * embedded object, a collection, a composite or inverse reference, a lazy, hidden or unpersisted property.
 */
export function propertyColumns(em: EntityManager, entity: string, properties: string[]): ({ column: string; make: string } | undefined)[] {
  const meta = em.getMetadata().find(byName(entity));
  return properties.map((name) => {
    const prop = meta?.properties[name as never] as EntityProperty | undefined;
    const stored = prop && (prop.kind === 'scalar' || ((prop.kind === 'm:1' || prop.kind === '1:1') && prop.owner)) && prop.fieldNames?.length === 1 &&
      !prop.formula && !prop.lazy && !prop.hidden && prop.persist !== false && !prop.embedded;
    if (!stored) return undefined;
    const custom = (prop.customType as { constructor?: { name?: string } } | undefined)?.constructor?.name ?? '';
    return { column: prop.fieldNames[0]!, make: [prop.kind, prop.type, prop.runtimeType, custom, prop.columnTypes?.join(',') ?? ''].join('|') };
  });
}

/** Whether any of `properties` of `entity` takes a null (a key MikroORM's cursor pagination cannot page past). */
export function anyNullable(em: EntityManager, entity: string, properties: string[]): boolean {
  const meta = em.getMetadata().find(byName(entity));
  return properties.some((name) => (meta?.properties[name as never] as EntityProperty | undefined)?.nullable === true);
}

/** Property names of an entity (what a replica's field mapping may write). */
export function propertyNames(em: EntityManager, entity: string): Set<string> {
  return new Set(em.getMetadata().find(byName(entity))?.props.map((prop) => prop.name) ?? []);
}

/**
 * What the unit of work does for `entity` on insert or update that a plain SQL write would skip:
 * lifecycle hooks (`@BeforeCreate`...), `onCreate` / `onUpdate` values, a version property. Empty when none.
 */
export function unitOfWorkFeatures(em: EntityManager, entity: string): string[] {
  const meta = em.getMetadata().find(byName(entity));
  if (!meta) return [];
  const hooks = Object.entries(meta.hooks ?? {}).filter(([, list]) => (list?.length ?? 0) > 0).map(([hook]) => `the ${hook} hook`);
  const computed = meta.props.filter((prop) => prop.onCreate || prop.onUpdate).map((prop) => `${prop.name}'s onCreate/onUpdate`);
  return [...hooks, ...computed, ...(meta.versionProperty ? [`the version property ${String(meta.versionProperty)}`] : [])];
}

/**
 * Whether `orm` was created by the copy of @mikro-orm/core this package loads. An app that loads
 * two copies (a second install under entity-sync, a `link:` dependency) decorates its entities with
 * one and hands them to the other, which then knows none of them.
 */
export function isOwnOrmCopy(orm: object): boolean {
  return orm instanceof MikroORM;
}

/** Where this package's copy of @mikro-orm/core is, for an error message; undefined when it cannot tell. */
export function ownOrmCopyPath(): string | undefined {
  try {
    return import.meta.resolve('@mikro-orm/core');
  } catch {
    return undefined;
  }
}
