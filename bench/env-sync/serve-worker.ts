// The source installation of the bench: an HTTP server in a process of its own, serving the
// environment-sync export of one database on 127.0.0.1, so that neither its CPU nor its memory
// counts in the pulling side's figures.
//   serve-worker <source url>
// Prints one JSON line `{ url, token }` once listening; closes and exits when its stdin ends (the
// parent went away or is done) or after a deadline.
import { createHttpHandler, staticTokenAuth } from '@entity-sync/adapters/http';
import { toNodeListener } from '@entity-sync/adapters/http/node';
import { envSyncRoutes } from '@entity-sync/adapters/mikro-orm';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openReferenceData } from './orm.js';

const DEADLINE_MS = 30 * 60_000;
const [sourceUrl] = process.argv.slice(2) as [string];
const orm = await openReferenceData(sourceUrl);
const token = randomBytes(32).toString('hex');
const handler = createHttpHandler({ prefix: '/sync', auth: staticTokenAuth({ token }), routes: envSyncRoutes(orm) });
const server = createServer(toNodeListener(handler));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await orm.close();
  process.exit(0);
};
setTimeout(close, DEADLINE_MS).unref();
process.stdin.on('end', close).on('close', close).resume();
console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/sync`, token }));
