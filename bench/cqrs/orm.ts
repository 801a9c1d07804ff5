import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { createSchema as createTables, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Account, AccountCopy } from './entities.js';

export type Orm = MikroORM<PostgreSqlDriver>;

/** Options of `openMaster` and `openReplica`. */
export interface OpenOptions {
  /** Connections in the pool. Default 10. */
  poolMax?: number;
  /** Create the table (the database is empty). Default true. */
  createSchema?: boolean;
}

async function open(url: string, entities: Function[], { poolMax = 10, createSchema = true }: OpenOptions): Promise<Orm> {
  const orm = await MikroORM.init<PostgreSqlDriver>({
    driver: PostgreSqlDriver, clientUrl: url, metadataProvider: ReflectMetadataProvider, entities, extensions: [EntitySync], pool: { min: 1, max: poolMax },
  });
  if (createSchema) await createTables(orm);
  return orm;
}

/** An ORM on the master database at `url`, with the `account` table (the outbox is installed separately). */
export const openMaster = (url: string, options: OpenOptions = {}) => open(url, [Account], options);

/** An ORM on the replica database at `url`, with the `account_copy` table. */
export const openReplica = (url: string, options: OpenOptions = {}) => open(url, [AccountCopy], options);
