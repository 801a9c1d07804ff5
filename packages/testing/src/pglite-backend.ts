import { PGlite } from '@electric-sql/pglite';
import { MikroORM } from '@mikro-orm/core';
import { PGliteDriver } from 'mikro-orm-pglite';
import type { TestBackend, TestOrmOptions } from './test-backend.js';

/**
 * The embedded backend: one PGlite instance for the whole process (starting one costs
 * about two seconds) and a schema of its own for every ORM, dropped when the ORM closes.
 * PGlite has a single connection, so tests must not interleave transactions of two ORMs.
 */
export class PgliteBackend implements TestBackend {
  readonly name = 'pglite' as const;
  private pglite?: Promise<PGlite>;
  private counter = 0;

  private instance(): Promise<PGlite> {
    this.pglite ??= PGlite.create();
    return this.pglite;
  }

  async createOrm(options: TestOrmOptions): Promise<MikroORM> {
    const pglite = await this.instance();
    const schema = `t${process.pid}_${++this.counter}`;
    await pglite.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; CREATE SCHEMA "${schema}"`);
    const { createSchema = true, ...config } = options;
    const orm = await MikroORM.init({
      ...config,
      driver: PGliteDriver,
      dbName: 'postgres',
      schema,
      driverOptions: { connection: { pglite: () => pglite } },
    } as never);
    const close = orm.close.bind(orm);
    orm.close = async (force?: boolean) => {
      await close(force);
      await pglite.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    };
    if (createSchema) await orm.schema.createSchema();
    return orm;
  }

  async executeScript(orm: MikroORM, sql: string): Promise<void> {
    const pglite = await this.instance();
    await pglite.exec(`SET search_path TO "${orm.config.get('schema')}";\n${sql}`);
    await pglite.exec('RESET search_path');
  }

  async close(): Promise<void> {
    const pglite = this.pglite;
    this.pglite = undefined;
    if (pglite) await (await pglite).close();
  }
}
