import { discoveryRules, RegistryError, registryEntries, getRegistryEntry, type DiscoveryRules, type RegistryEntry } from '@entity-sync/core';
import { hasEntityDecorators, schemaClassName, type EntityInfo } from './compat.js';
import { isUniquelyConstrained, resolveNaturalKeyPaths, type ResolvedNaturalKey } from './natural-key-paths.js';

/** Something the registry allows but the user should know about. */
export interface RegistryWarning {
  code: 'NATURAL_KEY_NOT_UNIQUE';
  entity: string;
  message: string;
}

/** The registry as it applies to one ORM: entries by entity name, with natural keys resolved. */
export interface ValidatedRegistry {
  entries: Map<string, RegistryEntry>;
  naturalKeys: Map<string, ResolvedNaturalKey>;
  warnings: RegistryWarning[];
}

function decoratorOf(entry: RegistryEntry): string {
  if (entry.syncModel) return '@SyncModel';
  if (entry.master) return '@Master';
  return '@Replica';
}

function ambiguousSchemaName(entity: EntityInfo, named: RegistryEntry[]): RegistryError {
  const decorators = [...new Set(named.map(decoratorOf))].join(', ');
  return RegistryError.ambiguousSchemaName(entity.className, decorators, named.length);
}

// An EntitySchema's entry is matched by the identity of the schema object: two ORMs of one
// process may each define their own schema of the same name, with their own options.
function entryOf(entity: EntityInfo, schemasByName: Map<string, RegistryEntry[]>): RegistryEntry | undefined {
  const own = getRegistryEntry(entity.class);
  if (own || hasEntityDecorators(entity.class)) return own;
  if (entity.entitySchema) return getRegistryEntry(entity.entitySchema);
  const named = schemasByName.get(entity.className) ?? [];
  if (named.length > 1) throw ambiguousSchemaName(entity, named);
  return named[0];
}

function checkFields(entity: EntityInfo, decorator: string, options: Record<string, unknown>, naturalKey: string[] = []): void {
  const known = entity.props.filter((prop) => !prop.embeddedPath && !prop.synthetic).map((prop) => prop.name);
  for (const option of ['include', 'exclude', 'fileFields']) {
    const fields = options[option];
    if (fields === undefined) continue;
    if (!Array.isArray(fields)) {
      throw RegistryError.invalidOption(entity.className, decorator, option, 'must be a list of property names');
    }
    for (const field of fields) {
      if (!known.includes(field)) throw RegistryError.unknownField(entity.className, decorator, option, String(field), known);
      if (option === 'exclude' && entity.primaryKeys.includes(field)) {
        throw RegistryError.invalidOption(entity.className, decorator, option,
          `names the primary-key property '${field}', which every synced row keeps (rows are matched across databases by it, ` +
            `and a message carries it as its key); remove '${field}' from exclude`);
      }
      if (option === 'exclude' && naturalKey.some((path) => path.split('.')[0] === field)) {
        throw RegistryError.invalidOption(entity.className, decorator, option,
          `names '${field}', which the natural key [${naturalKey.join(', ')}] starts from: rows are matched across databases by it; ` +
            `remove '${field}' from exclude`);
      }
    }
  }
}

const matches = (patterns: (string | RegExp)[] | RegExp | undefined, name: string) =>
  patterns !== undefined && [patterns].flat().some((pattern) => (typeof pattern === 'string' ? pattern === name : new RegExp(pattern.source, pattern.flags.replace('g', '')).test(name)));

/**
 * The entity's entry for this ORM after the discovery rules: an entity they include that is no
 * `@SyncModel` is served as one; a served model loses the properties `dropFields` names (never its
 * primary or natural key). What they did is kept in the entry's `discovery`.
 */
function applyDiscovery(entity: EntityInfo, entry: RegistryEntry | undefined, rules: DiscoveryRules): RegistryEntry | undefined {
  if (!entity.hasTable || entity.pivot) return entry;
  const properties = entity.props.filter((prop) => !prop.embeddedPath && !prop.synthetic).map((prop) => prop.name);
  let discovered = false;
  if (!entry?.syncModel) {
    const wanted = typeof rules.include === 'function'
      ? rules.include({ name: entity.className, tableName: entity.tableName, schema: entity.schema, properties })
      : matches(rules.include, entity.className);
    if (!wanted || matches(rules.exclude, entity.className)) return entry;
    discovered = true;
  }
  const options = entry?.syncModel ?? {};
  const keys = new Set([...entity.primaryKeys, ...(options.naturalKey ?? []).map((path) => path.split('.')[0]!)]);
  const dropped = properties.filter((name) => !keys.has(name) && matches(rules.dropFields, name));
  const syncModel = !dropped.length ? options : options.include
    ? { ...options, include: options.include.filter((name) => !dropped.includes(name)) }
    : { ...options, exclude: [...new Set([...(options.exclude ?? []), ...dropped])] };
  // this ORM's own copy: the registry, which other ORMs of the process read too, is left as the decorators made it
  return { ...(entry ?? { target: entity.class, name: entity.className }), syncModel, discovery: { discovered, dropped } };
}

/**
 * Checks every registry entry against the ORM's entities and resolves natural keys.
 * Throws a `RegistryError` naming the entity and option at the first problem.
 */
export function validateRegistry(entities: EntityInfo[]): ValidatedRegistry {
  const all = registryEntries();
  const schemasByName = new Map<string, RegistryEntry[]>();
  for (const entry of all) {
    const name = schemaClassName(entry.target);
    if (name) schemasByName.set(name, [...(schemasByName.get(name) ?? []), entry]);
  }

  const entries = new Map<string, RegistryEntry>();
  const matched = new Set<RegistryEntry>();
  const rules = discoveryRules();
  for (const entity of entities) {
    const found = entryOf(entity, schemasByName);
    const entry = rules ? applyDiscovery(entity, found, rules) : found;
    if (!entry) continue;
    if (found) matched.add(found);
    if (!entity.hasTable) throw RegistryError.notAnEntity(entity.className, decoratorOf(entry));
    entries.set(entity.className, entry);
  }
  // An entry that matches no entity here is an error only when nothing makes it an entity:
  // decorated entities of another ORM in the same process (a master and its replica) are fine.
  for (const entry of all) {
    if (!matched.has(entry) && !hasEntityDecorators(entry.target) && !schemaClassName(entry.target)) {
      throw RegistryError.notAnEntity(entry.name, decoratorOf(entry));
    }
  }

  const byName = new Map(entities.map((entity) => [entity.className, entity]));
  const masters = new Map<string, string[]>();
  for (const [name, entry] of entries) {
    const entity = byName.get(name)!;
    if (entry.syncModel) checkFields(entity, '@SyncModel', entry.syncModel as Record<string, unknown>, entry.syncModel.naturalKey);
    const audit = entry.syncModel?.audit;
    if (audit && audit !== true && audit.exclude) checkFields(entity, '@SyncModel audit', { exclude: audit.exclude });
    if (entry.master) {
      checkFields(entity, '@Master', entry.master.options as Record<string, unknown>);
      masters.set(entry.master.cqrsId, [...(masters.get(entry.master.cqrsId) ?? []), name]);
    }
  }
  for (const [cqrsId, owners] of masters) {
    if (owners.length > 1) throw RegistryError.duplicateCqrsId(cqrsId, owners);
  }

  const declaredKeyOf = (entity: string) => entries.get(entity)?.syncModel?.naturalKey;
  const naturalKeys = new Map<string, ResolvedNaturalKey>();
  const warnings: RegistryWarning[] = [];
  for (const [name, entry] of entries) {
    const declared = entry.syncModel?.naturalKey;
    if (!declared) continue;
    const entity = byName.get(name)!;
    const key = resolveNaturalKeyPaths(entity, declared, byName, declaredKeyOf);
    naturalKeys.set(name, key);
    if (!isUniquelyConstrained(entity, key.paths, byName)) {
      warnings.push({
        code: 'NATURAL_KEY_NOT_UNIQUE',
        entity: name,
        message: `@SyncModel on ${name}: naturalKey [${declared.join(', ')}] is not backed by a unique constraint, ` +
          `so two rows may share a key and lookups may fail as ambiguous. Add @Unique({ properties: [...] }) over the key's properties.`,
      });
    }
  }
  return { entries, naturalKeys, warnings };
}
