import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { createSchema, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { referenceEntities } from './entities.js';

export type Orm = MikroORM<PostgreSqlDriver>;

/** An ORM on the reference-data schema at `url`, with entity-sync. */
export function openReferenceData(url: string): Promise<Orm> {
  return MikroORM.init<PostgreSqlDriver>({ driver: PostgreSqlDriver, clientUrl: url, metadataProvider: ReflectMetadataProvider, entities: referenceEntities, extensions: [EntitySync] });
}

/**
 * An ORM on an empty database at `url` that gets the reference-data schema and no rows. With
 * `idOffset`, every id sequence starts there, so that the ids this database gives differ from
 * the source's (which start at 1): only natural keys can match its rows with the source's.
 */
export async function createReferenceData(url: string, idOffset?: number): Promise<Orm> {
  const orm = await openReferenceData(url);
  await createSchema(orm);
  if (idOffset !== undefined) {
    await orm.em.getConnection().execute(
      `select setval(format('%I.%I', schemaname, sequencename), ${idOffset}, false) from pg_sequences where schemaname = 'public'`);
  }
  return orm;
}
