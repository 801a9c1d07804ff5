import { MikroORM } from '@mikro-orm/core';
import pg from 'pg';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { createSchema, defaultMetadataProvider } from './mikro-orm-version.js';
import { PostgresCluster } from './postgres-cluster.js';
import type { TestBackend, TestOrmOptions } from './test-backend.js';

/** The real-server backend: one throwaway cluster per process, a new database for every ORM. */
export class PostgresBackend implements TestBackend {
  readonly name = 'postgres' as const;
  private cluster?: Promise<PostgresCluster>;
  private counter = 0;

  /** The cluster behind this backend, started on first use. */
  clusterInstance(): Promise<PostgresCluster> {
    this.cluster ??= PostgresCluster.start();
    return this.cluster;
  }

  async createOrm(options: TestOrmOptions): Promise<MikroORM> {
    const cluster = await this.clusterInstance();
    const dbName = `test_${process.pid}_${++this.counter}`;
    await cluster.createDatabase(dbName);
    const { createSchema: create = true, ...config } = options;
    const orm = await MikroORM.init({
      metadataProvider: await defaultMetadataProvider(),
      ...config,
      driver: PostgreSqlDriver,
      clientUrl: cluster.url(dbName),
    } as never);
    if (create) await createSchema(orm);
    return orm;
  }

  async executeScript(orm: MikroORM, sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: orm.config.get('clientUrl') });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  async close(): Promise<void> {
    const cluster = this.cluster;
    this.cluster = undefined;
    if (cluster) (await cluster).stop();
  }
}
