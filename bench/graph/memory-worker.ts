// One NDJSON export or import of the whole shop in a process of its own, so that the peak
// resident memory it reports is the operation's and not the bench's.
//   memory-worker <idle|export|import> <database url> <file>
// Prints one JSON line: { rows, seconds, peakRssMb }.
import { exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { readFileSync } from 'node:fs';
import { Store } from './entities.js';
import { STORES } from './generate.js';
import { openShop } from './shop-orm.js';

// Linux carries the forking parent's resident size into a child's getrusage maxRSS across exec
// (a child of a 400 MB process reports 400 MB doing nothing). VmHWM is the high-water mark of
// this process's own address space, so it is read where it exists.
function peakRssMb(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) / 1024;
  } catch {
    // not Linux: getrusage is the best there is
  }
  return process.resourceUsage().maxRSS / 1024;
}

const [mode, url, file] = process.argv.slice(2) as [string, string, string];
const orm = await openShop(url);
const start = performance.now();
let rows = 0;
if (mode === 'export') {
  const roots = Array.from({ length: STORES }, (_, i) => ({ entity: Store, key: i + 1 }));
  rows = (await exportGraph(orm.em.fork(), roots, { format: 'ndjson', to: file })).rows;
} else if (mode === 'import') {
  rows = (await importGraph(orm.em.fork(), file)).rows;
}
const seconds = (performance.now() - start) / 1000;
await orm.close();
console.log(JSON.stringify({ rows, seconds, peakRssMb: peakRssMb() }));
