import { PGlite } from '@electric-sql/pglite';
import { MikroORM } from '@mikro-orm/core';
import { createSchema, defaultMetadataProvider, embeddedOrmOptions } from './mikro-orm-version.js';
import type { TestBackend, TestOrmOptions } from './test-backend.js';

/**
 * The embedded backend: ORMs take turns on a few PGlite instances (starting one costs about
 * two seconds). An ORM gets an instance no other open ORM uses, started when none is free, and a
 * schema of its own in it, dropped when the ORM closes, when the instance is free again. ORMs
 * open at the same time (a master and its replica) are therefore as apart as two databases: PGlite
 * has a single connection, and on MikroORM 7 an ORM transaction holds the whole instance.
 */
export class PgliteBackend implements TestBackend {
  readonly name = 'pglite' as const;
  private readonly started: Promise<PGlite>[] = [];
  private readonly free: PGlite[] = [];
  private readonly instanceOf = new WeakMap<MikroORM, PGlite>();
  private counter = 0;

  private async take(): Promise<PGlite> {
    const idle = this.free.pop();
    if (idle) return idle;
    const started = PGlite.create();
    this.started.push(started);
    return started;
  }

  async createOrm(options: TestOrmOptions): Promise<MikroORM> {
    const pglite = await this.take();
    const schema = `t${process.pid}_${++this.counter}`;
    const release = async () => {
      await pglite.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      this.free.push(pglite);
    };
    let orm: MikroORM | undefined;
    try {
      await pglite.exec(`DROP SCHEMA IF EXISTS "${schema}" CASCADE; CREATE SCHEMA "${schema}"`);
      const { createSchema: create = true, ...config } = options;
      orm = await MikroORM.init({
        metadataProvider: await defaultMetadataProvider(),
        ...config,
        ...await embeddedOrmOptions({ pglite }),
        schema,
      } as never);
      if (create) await createSchema(orm);
    } catch (error) {
      await orm?.close(true).catch(() => undefined);
      await release();
      throw error;
    }
    this.instanceOf.set(orm, pglite);
    const close = orm.close.bind(orm);
    let closed = false;
    orm.close = async (force?: boolean) => {
      await close(force);
      if (closed) return;
      closed = true;
      this.instanceOf.delete(orm!);
      await release();
    };
    return orm;
  }

  async executeScript(orm: MikroORM, sql: string): Promise<void> {
    const pglite = this.instanceOf.get(orm);
    if (!pglite) throw new Error('executeScript: this ORM was not created by this backend, or is closed');
    await pglite.exec(`SET search_path TO "${orm.config.get('schema')}";\n${sql}`);
    await pglite.exec('RESET search_path');
  }

  async close(): Promise<void> {
    const started = this.started.splice(0);
    this.free.splice(0);
    for (const pglite of started) await (await pglite).close();
  }
}
