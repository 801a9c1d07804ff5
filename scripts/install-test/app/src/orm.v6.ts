// MikroORM 6: decorators from @mikro-orm/core, PGlite through mikro-orm-pglite.
// (run.mjs copies this file or orm.v7.ts to src/orm.ts, by the MikroORM major it installs.)
import type { MikroORM } from '@mikro-orm/core';
import { PGliteDriver } from 'mikro-orm-pglite';

export { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/core';

/** An embedded database kept in `dir`, or in memory without one. */
export function pgliteOptions(dir?: string) {
  return { driver: PGliteDriver, dbName: 'app', driverOptions: dir ? { connection: { filename: dir } } : {} };
}

export const createSchema = (orm: MikroORM) => orm.schema.createSchema();
