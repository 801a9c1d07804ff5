import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { EntitySync, type EntitySyncOptions } from '@entity-sync/adapters/mikro-orm';
import { ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';

/** Runs MikroORM discovery with entity-sync attached, without connecting to any database. */
export async function discover(entities: unknown[], options: EntitySyncOptions = {}): Promise<MikroORM> {
  return MikroORM.init({
    driver: PostgreSqlDriver,
    dbName: 'discovery_only',
    connect: false,
    metadataProvider: ReflectMetadataProvider,
    entities: entities as never,
    extensions: [EntitySync.configure(options)],
  });
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected the call to fail, but it succeeded');
}
