// What differs between MikroORM 6 and 7 for the test backends: schema creation, the embedded
// PGlite driver, and the default metadata provider.
import { Utils, type MikroORM, type Options } from '@mikro-orm/core';

/** The major version of the installed MikroORM (6 or 7). */
export const mikroOrmMajor = Number(Utils.getORMVersion().split('.')[0]);

/** Creates the tables of every entity of `orm`: `orm.schema.create()` on MikroORM 7, `createSchema()` on 6. */
export async function createSchema(orm: MikroORM): Promise<void> {
  const schema = orm.schema as unknown as { create?(): Promise<void>; createSchema?(): Promise<void> };
  await (schema.create ?? schema.createSchema)!.call(schema);
}

/** An embedded PGlite database: an instance the caller owns and closes, or a data directory (in memory without one). */
export type EmbeddedDatabase = { pglite: object } | { dataDir?: string };

/**
 * The MikroORM options (driver, dbName, driverOptions) of the embedded PGlite driver of the
 * installed major: `mikro-orm-pglite` on MikroORM 6, the official `@mikro-orm/pglite` on 7.
 */
export async function embeddedOrmOptions(database: EmbeddedDatabase): Promise<Partial<Options>> {
  const given = 'pglite' in database ? () => database.pglite : undefined;
  const dataDir = 'dataDir' in database ? database.dataDir : undefined;
  if (mikroOrmMajor >= 7) {
    const { PgliteDriver } = await import('@mikro-orm/pglite' as string) as { PgliteDriver: Options['driver'] };
    // on 7 `dbName` names the data directory, unless the instance is given
    return given ? { driver: PgliteDriver, dbName: 'postgres', driverOptions: { pglite: given } } : { driver: PgliteDriver, dbName: dataDir ?? 'memory://' };
  }
  const { PGliteDriver } = await import('mikro-orm-pglite' as string) as { PGliteDriver: Options['driver'] };
  const connection = given ? { pglite: given } : dataDir ? { filename: dataDir } : undefined;
  return { driver: PGliteDriver, dbName: 'postgres', driverOptions: connection ? { connection } : {} };
}

/**
 * ORM options under which taking a connection from the pool fails after `ms` instead of waiting
 * for a server that does not answer: knex's `acquireTimeoutMillis` on MikroORM 6, pg's
 * `connectionTimeoutMillis` on 7.
 */
export function connectionTimeoutOptions(ms: number): Partial<Options> {
  return mikroOrmMajor >= 7 ? { driverOptions: { connectionTimeoutMillis: ms } } : { pool: { acquireTimeoutMillis: ms } } as Partial<Options>;
}

/**
 * The metadata provider the test backends default to: MikroORM 6's own default
 * (ReflectMetadataProvider, undefined here), on 7 the ReflectMetadataProvider of
 * @mikro-orm/decorators/legacy when that is installed.
 */
export async function defaultMetadataProvider(): Promise<Options['metadataProvider'] | undefined> {
  if (mikroOrmMajor < 7) return undefined;
  try {
    return (await import('@mikro-orm/decorators/legacy' as string) as { ReflectMetadataProvider: Options['metadataProvider'] }).ReflectMetadataProvider;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}
