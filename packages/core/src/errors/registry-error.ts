import { EntitySyncError } from './entity-sync-error.js';

/** A decorator or `register*` call whose options do not fit the ORM's metadata. */
export class RegistryError extends EntitySyncError {
  static invalidOption(entity: string, decorator: string, option: string, why: string): RegistryError {
    return new RegistryError(
      'REGISTRY_INVALID_OPTION',
      `${decorator} on ${entity}: option '${option}' ${why}.`,
      { info: { entity, decorator, option } },
    );
  }

  static notAnEntity(entity: string, decorator: string): RegistryError {
    return new RegistryError(
      'REGISTRY_NOT_AN_ENTITY',
      `${decorator} on ${entity}: ${entity} is not a MikroORM entity. ` +
        `Decorate it with @Entity() (or define an EntitySchema) and list it in the ORM's 'entities', or remove ${decorator}.`,
      { info: { entity, decorator } },
    );
  }

  static unknownField(entity: string, decorator: string, option: string, field: string, known: string[]): RegistryError {
    return new RegistryError(
      'REGISTRY_UNKNOWN_FIELD',
      `${decorator} on ${entity}: option '${option}' names '${field}', which is not a property of ${entity}. ` +
        `Known properties: ${known.join(', ')}.`,
      { info: { entity, decorator, option, field } },
    );
  }

  static duplicateCqrsId(cqrsId: string, entities: string[]): RegistryError {
    return new RegistryError(
      'REGISTRY_DUPLICATE_CQRS_ID',
      `@Master('${cqrsId}') is declared on ${entities.join(' and ')}: a CQRS id must have exactly one master. ` +
        `Give one of them another id.`,
      { info: { cqrsId, entities, option: 'cqrsId' } },
    );
  }

  static naturalKeyPathNotFound(entity: string, path: string, at: string, segment: string, known: string[]): RegistryError {
    return new RegistryError(
      'NATURAL_KEY_PATH_NOT_FOUND',
      `@SyncModel on ${entity}: naturalKey path '${path}' does not exist: ${at} has no property '${segment}'. ` +
        `Known properties of ${at}: ${known.join(', ')}.`,
      { info: { entity, option: 'naturalKey', path, at, segment } },
    );
  }

  static naturalKeyPathNotScalar(entity: string, path: string, segment: string, why: string): RegistryError {
    return new RegistryError(
      'NATURAL_KEY_PATH_NOT_FOUND',
      `@SyncModel on ${entity}: naturalKey path '${path}' cannot be a key: '${segment}' ${why}.`,
      { info: { entity, option: 'naturalKey', path, segment } },
    );
  }

  /** Several EntitySchema definitions share the name of an entity the ORM found by path, so which one it uses cannot be told. */
  static ambiguousSchemaName(entity: string, decorators: string, count: number): RegistryError {
    return new RegistryError(
      'REGISTRY_INVALID_OPTION',
      `${decorators} on ${entity}: ${count} EntitySchema definitions named ${entity} are registered, ` +
        `and this ORM found its ${entity} through a folder path, so which one it uses cannot be told. ` +
        `List the EntitySchema objects themselves in the ORM's 'entities', or give the schemas distinct names.`,
      { info: { entity, decorator: decorators, option: 'entities' } },
    );
  }

  /** A `@Master` serializer is a class, which needs the optional package class-transformer. */
  static serializerNeedsClassTransformer(cqrsId: string, cause?: unknown): RegistryError {
    return new RegistryError(
      'REGISTRY_INVALID_OPTION',
      `@Master('${cqrsId}') names a serializer class, which needs class-transformer: npm install class-transformer.`,
      { cause, info: { cqrsId, decorator: '@Master', option: 'serializer' } },
    );
  }
}
