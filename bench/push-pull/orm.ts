import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { PpItem } from './entities.js';

export type Orm = MikroORM<PostgreSqlDriver>;

/** An ORM on the push/pull bench's schema at `url`, with entity-sync. */
export function openItems(url: string): Promise<Orm> {
  return MikroORM.init<PostgreSqlDriver>({ driver: PostgreSqlDriver, clientUrl: url, metadataProvider: ReflectMetadataProvider, entities: [PpItem], extensions: [EntitySync] });
}
