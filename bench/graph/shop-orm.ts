import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { createSchema, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { shopEntities } from './entities.js';

/** An ORM on the shop schema at `url`, with entity-sync. */
export function openShop(url: string): Promise<MikroORM<PostgreSqlDriver>> {
  return MikroORM.init<PostgreSqlDriver>({ driver: PostgreSqlDriver, clientUrl: url, metadataProvider: ReflectMetadataProvider, entities: shopEntities, extensions: [EntitySync] });
}

/** An ORM on an empty database at `url` that gets the shop schema, and no rows. */
export async function createShop(url: string): Promise<MikroORM<PostgreSqlDriver>> {
  const orm = await openShop(url);
  await createSchema(orm);
  return orm;
}
