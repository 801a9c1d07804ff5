// MikroORM 7: decorators and their metadata provider from @mikro-orm/decorators/legacy, PGlite
// through @mikro-orm/pglite. (run.mjs copies this file or orm.v6.ts to src/orm.ts, by the
// MikroORM major it installs.)
import type { MikroORM } from '@mikro-orm/core';
import { ReflectMetadataProvider } from '@mikro-orm/decorators/legacy';
import { PgliteDriver } from '@mikro-orm/pglite';

export { Entity, ManyToOne, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';

/** An embedded database kept in `dir`, or in memory without one. */
export function pgliteOptions(dir?: string) {
  return { driver: PgliteDriver, dbName: dir ?? 'memory://', metadataProvider: ReflectMetadataProvider };
}

export const createSchema = (orm: MikroORM) => orm.schema.create();
