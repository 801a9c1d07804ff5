// The server of the push/pull bench in a process of its own: pushPullRoutes (permissions on) and
// pullStreamRoutes of one database on 127.0.0.1, accepting HS256 JWTs and a static token, so that
// neither its CPU nor its memory counts in the clients' figures.
//   serve-worker <database url> <jwt secret>
// Prints one JSON line `{ url, token }` once listening. Commands on stdin, one a line, each
// answered by one JSON line: `memory` (this process's peak RSS since the last `reset`, VmHWM, its
// V8 heap now, and the CPU time it used since), `reset` (starts the peak and the CPU time over). Closes and exits when its stdin ends or after a deadline.
import { createHttpHandler, jwtAuth, staticTokenAuth } from '@entity-sync/adapters/http';
import { toNodeListener } from '@entity-sync/adapters/http/node';
import { pullStreamRoutes, pushPullRoutes } from '@entity-sync/adapters/mikro-orm';
import { randomBytes } from 'node:crypto';
import { getHeapStatistics } from 'node:v8';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { peakRssMb } from '../graph/peak-rss.js';
import { openItems } from './orm.js';

const DEADLINE_MS = 30 * 60_000;
const [url, secret] = process.argv.slice(2) as [string, string];
const orm = await openItems(url);
const token = randomBytes(32).toString('hex');
const live = pullStreamRoutes(orm);
const handler = createHttpHandler({
  prefix: '/sync',
  auth: [jwtAuth({ secret, algorithms: ['HS256'] }), staticTokenAuth({ token })],
  routes: [pushPullRoutes(orm, { permissions: true }), live],
});
const server = createServer(toNodeListener(handler));
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;

let peakHeap = 0;
let cpuFrom = process.cpuUsage();
const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size)), 10);
let closing = false;
const close = async () => {
  if (closing) return;
  closing = true;
  clearInterval(sampler);
  await live.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await orm.close();
  process.exit(0);
};
setTimeout(close, DEADLINE_MS).unref();
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line === 'reset') {
    // Linux: 5 in clear_refs sets the peak resident size back to the current one
    try { writeFileSync('/proc/self/clear_refs', '5'); } catch { /* not Linux: the peak stays the process's */ }
    peakHeap = getHeapStatistics().used_heap_size;
    cpuFrom = process.cpuUsage();
    console.log(JSON.stringify({ reset: true }));
  } else if (line === 'memory') {
    const cpu = process.cpuUsage(cpuFrom);
    console.log(JSON.stringify({ peakRssMb: peakRssMb(), peakHeapMb: Math.max(peakHeap, getHeapStatistics().used_heap_size) / 1048576, cpuSeconds: (cpu.user + cpu.system) / 1e6 }));
  }
}).on('close', close);
console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/sync`, token }));
