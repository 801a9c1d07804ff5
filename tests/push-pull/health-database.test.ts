// GET <prefix>/health against a real PostgreSQL that stops: 200 while it runs, 503 naming the
// database once it is gone (within the check's timeout, not a hang), 200 again when it is back.
import 'reflect-metadata';
import { createHttpHandler, staticTokenAuth } from '@entity-sync/adapters/http';
import { EntitySync, healthRoutes } from '@entity-sync/adapters/mikro-orm';
import { findPostgresBinDir, PostgresCluster } from '@entity-sync/testing';
import { Entity, PrimaryKey, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve } from '../http/serve.js';
import { until } from '../support/until.js';

@Entity({ tableName: 'hd_row' })
class HdRow {
  @PrimaryKey() id!: number;
}

if (process.env.CI === 'true' || findPostgresBinDir()) {
  const test = suite('push/pull: health of a database that stops [postgres]');

  test('200 while PostgreSQL runs, 503 naming the database while it is paused, 200 again after', async () => {
    const cluster = await PostgresCluster.start();
    const orm = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: cluster.url(), metadataProvider: ReflectMetadataProvider, entities: [HdRow], extensions: [EntitySync] } as never);
    const server = await serve(createHttpHandler({
      prefix: '/ops', auth: staticTokenAuth({ token: 'health-token-0123456789abcdef', subject: 'ops', rights: [] }), routes: healthRoutes(orm, { timeoutMs: 1000 }),
    }), 'node');
    const health = async () => {
      const response = await fetch(`${server.url}/ops/health`, { signal: AbortSignal.timeout(10_000) });
      return { ...(await response.json() as { failing?: string[]; parts: Record<string, { ok: boolean; error?: string }> }), http: response.status };
    };
    let paused = false;
    try {
      assert.is((await health()).http, 200);
      cluster.pause();
      paused = true;
      const down = await health();
      assert.equal([down.http, down.failing], [503, ['database']]);
      assert.ok(down.parts.database!.error, 'the failure says why');
      cluster.resume();
      paused = false;
      await until('the database answers again', async () => (await health()).http === 200);
    } finally {
      if (paused) cluster.resume();
      await server.close();
      await orm.close(true);
      cluster.stop();
    }
  });

  test.run();
}
