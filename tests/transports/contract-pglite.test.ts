// The transport contract on the PostgreSQL transport over embedded PGlite: every transport the
// fixture opens shares one PGlite instance, as services share one database. A crash is a close()
// (the claimed message comes back once its claim runs out); PGlite has no server to stop.
import { PostgresTransport, pgliteClient } from '@entity-sync/adapters/postgres';
import { PGlite } from '@electric-sql/pglite';
import { allAdmin, transportContract } from '@entity-sync/testing';

let pglite: PGlite;
transportContract({
  name: 'postgres on pglite',
  setUp: async () => {
    pglite = await PGlite.create();
  },
  tearDown: () => pglite.close(),
  open: async ({ maxAttempts, retryDelayMs }) => {
    const transport = new PostgresTransport(pgliteClient(pglite), { maxAttempts, retryDelayMs, pollMs: 100, claimSeconds: 5 });
    await transport.install();
    return transport;
  },
  admin: allAdmin,
  crash: (transport) => transport.close(),
});
