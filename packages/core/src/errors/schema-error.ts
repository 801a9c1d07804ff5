import { EntitySyncError } from './entity-sync-error.js';

/** A table whose shape a graph operation cannot work with. */
export class SchemaError extends EntitySyncError {
  static tableWithoutKey(entity: string, table: string, key: string[]): SchemaError {
    return new SchemaError(
      'TABLE_WITHOUT_KEY',
      `Table ${table} of ${entity} has no primary key or unique index on (${key.join(', ')}), so its rows cannot be told apart ` +
        'and graph operations refuse it. Add a primary key (or a unique index) on those columns, or exclude the relations that reach it.',
      { info: { entity, table, key } },
    );
  }

  static cycleUnbreakable(cycle: string[], cause?: unknown): SchemaError {
    return new SchemaError(
      'GRAPH_CYCLE_UNBREAKABLE',
      `The foreign keys between ${cycle.join(' -> ')} form a cycle that neither one statement nor a deferred or nullable key can satisfy. ` +
        'Make one of its foreign keys DEFERRABLE or nullable, or exclude one of its relations.',
      { info: { cycle }, cause },
    );
  }

  /** The table an entity maps does not exist in `schema`. */
  static tableMissing(entity: string, table: string, schema: string): SchemaError {
    return new SchemaError(
      'SCHEMA_MISMATCH',
      `Table '${table}' of ${entity} does not exist in schema '${schema}'. Create the schema (run your migrations) first.`,
      { info: { entity, table } },
    );
  }
}
