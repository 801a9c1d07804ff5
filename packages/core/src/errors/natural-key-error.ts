import { EntitySyncError } from './entity-sync-error.js';

/** A natural-key lookup that cannot be answered. */
export class NaturalKeyError extends EntitySyncError {
  static undefinedFor(entity: string): NaturalKeyError {
    return new NaturalKeyError(
      'NATURAL_KEY_UNDEFINED',
      `${entity} has no natural key. Declare one with @SyncModel({ naturalKey: [...] }) or registerSyncModel(${entity}, { naturalKey: [...] }).`,
      { info: { entity } },
    );
  }

  static incomplete(entity: string, path: string): NaturalKeyError {
    return new NaturalKeyError(
      'NATURAL_KEY_INCOMPLETE',
      `${entity}: the natural key has no value for '${path}'. Pass every path of the key, or load the relation it goes through.`,
      { info: { entity, path } },
    );
  }

  static ambiguous(entity: string, key: Record<string, unknown>): NaturalKeyError {
    return new NaturalKeyError(
      'NATURAL_KEY_AMBIGUOUS',
      `${entity}: natural key ${JSON.stringify(key)} matches more than one row. ` +
        `Add a unique constraint over the natural-key columns so that it names one row.`,
      { info: { entity, key } },
    );
  }
}
