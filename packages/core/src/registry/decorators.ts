import type { MasterOptions, ReplicaOptions, SyncModelOptions } from './options.js';
import { registerMaster, registerReplica, registerSyncModel } from './registry.js';

// Works both as a legacy (experimentalDecorators) and as a standard class decorator:
// either way the class arrives as the first argument.
type ClassDecorator = (target: Function, context?: unknown) => void;

/**
 * Marks an entity as synced by entity-sync: natural key and field rules.
 *
 * @example
 * ```ts
 * @Entity()
 * @SyncModel({ naturalKey: ['country.code', 'code'] })
 * export class Language { ... }
 * ```
 */
export function SyncModel(options: SyncModelOptions = {}): ClassDecorator {
  return (target) => registerSyncModel(target, options);
}

/**
 * Marks an entity as the master of a CQRS id: its committed changes are published.
 *
 * @example
 * ```ts
 * @Entity()
 * @Master('author')
 * export class Author { ... }
 * ```
 */
export function Master<T = any>(cqrsId: string, options: MasterOptions<T> = {}): ClassDecorator {
  return (target) => registerMaster(target, cqrsId, options);
}

/**
 * Marks an entity as a replica of a CQRS id: it applies what the master publishes.
 *
 * @example
 * ```ts
 * @Entity()
 * @Replica('author')
 * export class AuthorRef { ... }
 * ```
 */
export function Replica(cqrsId: string, options: ReplicaOptions = {}): ClassDecorator {
  return (target) => registerReplica(target, cqrsId, options);
}
