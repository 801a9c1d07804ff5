/** A value a natural-key path can hold. */
export type NaturalKeyValue = string | number | bigint | boolean | Date | null;

/**
 * A natural key: each resolved path of the entity's key with its value, in key order,
 * e.g. `{ 'country.code': 'FR', code: 'fr' }`.
 */
export type NaturalKey = Record<string, NaturalKeyValue>;
