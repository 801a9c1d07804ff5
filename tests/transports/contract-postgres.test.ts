// The transport contract on the PostgreSQL transport, against a real server of its own that the
// outage hook stops and starts. A crash is a close(): the claimed message comes back once its
// claim (claimSeconds) runs out. Its bodies are jsonb, so no unreadable body can be injected.
import { PostgresTransport, pgClient } from '@entity-sync/adapters/postgres';
import { allAdmin, findPostgresBinDir, PostgresCluster, transportContract } from '@entity-sync/testing';
import pg from 'pg';

if (process.env.CI === 'true' || findPostgresBinDir()) {
  let cluster: PostgresCluster;
  transportContract({
    name: 'postgres',
    setUp: async () => {
      cluster = await PostgresCluster.start();
      await cluster.createDatabase('bus');
    },
    tearDown: async () => cluster.stop(),
    open: async ({ maxAttempts, retryDelayMs }) => {
      const pool = new pg.Pool({ connectionString: cluster.url('bus'), max: 4 });
      const transport = new PostgresTransport(pgClient(pool, true), { maxAttempts, retryDelayMs, pollMs: 100, claimSeconds: 5 });
      await transport.install();
      return transport;
    },
    admin: allAdmin,
    outage: { stop: async () => cluster.pause(), start: async () => cluster.resume() },
    crash: (transport) => transport.close(),
  });
}
