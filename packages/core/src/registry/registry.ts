import { OptionError } from '../errors/option-error.js';
import { RegistryError } from '../errors/registry-error.js';
import type { DiscoveryRules, MasterOptions, RegistryEntry, ReplicaOptions, SyncModelOptions } from './options.js';

// The registry must be enumerable (start-up validation walks every decorated class),
// so it is a Map rather than a WeakMap; decorated classes live as long as their module
// anyway. It sits on globalThis so that two copies of this package (a dual install)
// still share one registry.
const REGISTRY_KEY = Symbol.for('@entity-sync/core/registry');
type Store = Map<object, RegistryEntry>;

function store(): Store {
  const holder = globalThis as { [REGISTRY_KEY]?: Store };
  holder[REGISTRY_KEY] ??= new Map();
  return holder[REGISTRY_KEY];
}

/** The name a class or EntitySchema is known by. */
export function targetName(target: object): string {
  const named = target as { name?: unknown; meta?: { className?: unknown } };
  if (typeof named.meta?.className === 'string') return named.meta.className;
  if (typeof named.name === 'string' && named.name !== '') return named.name;
  return '(anonymous)';
}

function entryFor(target: object): RegistryEntry {
  const entries = store();
  let entry = entries.get(target);
  if (!entry) {
    entry = { target, name: targetName(target) };
    entries.set(target, entry);
  }
  return entry;
}

function requireCqrsId(target: object, decorator: string, cqrsId: unknown): string {
  if (typeof cqrsId !== 'string' || cqrsId.trim() === '') {
    throw RegistryError.invalidOption(targetName(target), decorator, 'cqrsId', 'must be a non-empty string');
  }
  return cqrsId;
}

function checkAuditOption(name: string, audit: unknown): void {
  if (typeof audit === 'boolean') return;
  const invalid = (why: string) => RegistryError.invalidOption(name, '@SyncModel', 'audit', why);
  if (typeof audit !== 'object' || audit === null || Array.isArray(audit)) throw invalid(`must be true, false or { exclude?, retention? }, got ${JSON.stringify(audit)}`);
  const { exclude, retention, ...rest } = audit as { exclude?: unknown; retention?: unknown };
  if (Object.keys(rest).length) throw invalid(`has unknown options ${Object.keys(rest).join(', ')} (known: exclude, retention)`);
  if (exclude !== undefined && (!Array.isArray(exclude) || exclude.some((field) => typeof field !== 'string'))) throw invalid('exclude must be a list of property names');
  if (retention === undefined) return;
  if (typeof retention !== 'object' || retention === null) throw invalid('retention must be { days?, keep? }');
  for (const [option, value] of Object.entries(retention)) {
    if (option !== 'days' && option !== 'keep') throw invalid(`retention has an unknown option ${option} (known: days, keep)`);
    if (typeof value !== 'number' || !(value >= 0) || (option === 'keep' && !Number.isInteger(value))) {
      throw invalid(`retention.${option} must be ${option === 'keep' ? 'a whole number' : 'a number'} of 0 or more, got ${JSON.stringify(value)}`);
    }
  }
}

/** Programmatic twin of `@SyncModel`, for classes or `EntitySchema` definitions. */
export function registerSyncModel(target: object, options: SyncModelOptions = {}): void {
  const name = targetName(target);
  if (options.naturalKey !== undefined) {
    if (!Array.isArray(options.naturalKey) || options.naturalKey.length === 0) {
      throw RegistryError.invalidOption(name, '@SyncModel', 'naturalKey', 'must be a non-empty list of property paths');
    }
    for (const path of options.naturalKey) {
      if (typeof path !== 'string' || path === '' || path.split('.').some((segment) => segment === '')) {
        throw RegistryError.invalidOption(name, '@SyncModel', 'naturalKey', `has an invalid path ${JSON.stringify(path)}`);
      }
    }
  }
  if (options.include && options.exclude) {
    throw RegistryError.invalidOption(name, '@SyncModel', 'include', 'cannot be combined with exclude');
  }
  if (options.referenceData !== undefined && typeof options.referenceData !== 'boolean') {
    throw RegistryError.invalidOption(name, '@SyncModel', 'referenceData', `must be true or false, got a ${typeof options.referenceData}`);
  }
  if (options.tenant !== undefined && (typeof options.tenant !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(options.tenant))) {
    throw RegistryError.invalidOption(name, '@SyncModel', 'tenant', `must be a property name, got ${JSON.stringify(options.tenant)}`);
  }
  if (options.audit !== undefined) checkAuditOption(name, options.audit);
  entryFor(target).syncModel = { ...options };
}

/** Programmatic twin of `@Master`. */
export function registerMaster<T>(target: object, cqrsId: string, options: MasterOptions<T> = {}): void {
  const id = requireCqrsId(target, '@Master', cqrsId);
  if (options.include && options.exclude) {
    throw RegistryError.invalidOption(targetName(target), '@Master', 'include', 'cannot be combined with exclude');
  }
  entryFor(target).master = { cqrsId: id, options: { ...options } };
}

/** Programmatic twin of `@Replica`. */
export function registerReplica(target: object, cqrsId: string, options: ReplicaOptions = {}): void {
  const id = requireCqrsId(target, '@Replica', cqrsId);
  entryFor(target).replica = { cqrsId: id, options: { ...options } };
}

/** What the registry holds for `target`, if anything. */
export function getRegistryEntry(target: object): RegistryEntry | undefined {
  return store().get(target);
}

/** Every registered entity, in registration order. */
export function registryEntries(): RegistryEntry[] {
  return [...store().values()];
}

/** Forgets `target` (or everything): for tests that define throwaway entities. */
export function unregister(target?: object): void {
  if (target === undefined) store().clear();
  else store().delete(target);
}

const RULES_KEY = Symbol.for('@entity-sync/core/discovery-rules');

/**
 * Sets the discovery rules (replacing any before): entities the sync API serves besides the
 * `@SyncModel` ones, and properties no served model carries. Call it before `MikroORM.init`; the
 * rules apply when entity-sync checks the registry against the ORM's metadata. `entity-sync api
 * models` prints what they give.
 *
 * @example
 * ```ts
 * discoverSyncModels({ include: [/^Catalog/], exclude: ['CatalogDraft'], dropFields: /password|secret|token/i });
 * ```
 */
export function discoverSyncModels(rules: DiscoveryRules | undefined): void {
  const checkPatterns = (option: string, value: unknown) => {
    if (value !== undefined && !(Array.isArray(value) && value.every((item) => typeof item === 'string' || item instanceof RegExp))) {
      throw OptionError.invalid('discoverSyncModels', option, value, 'a list of names and regular expressions');
    }
  };
  if (rules !== undefined) {
    if (typeof rules.include !== 'function') checkPatterns('include', rules.include);
    checkPatterns('exclude', rules.exclude);
    if (!(rules.dropFields instanceof RegExp)) checkPatterns('dropFields', rules.dropFields);
  }
  (globalThis as { [RULES_KEY]?: DiscoveryRules })[RULES_KEY] = rules;
}

/** The discovery rules set by `discoverSyncModels`, if any. */
export function discoveryRules(): DiscoveryRules | undefined {
  return (globalThis as { [RULES_KEY]?: DiscoveryRules })[RULES_KEY];
}
