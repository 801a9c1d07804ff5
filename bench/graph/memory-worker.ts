// One NDJSON export or import of the whole shop in a process of its own, so that the peak
// resident memory it reports is the operation's and not the bench's.
//   memory-worker <idle|export|import> <database url> <file>
// Prints one JSON line: { rows, seconds, peakRssMb }.
import { exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { Store } from './entities.js';
import { STORES } from './generate.js';
import { peakRssMb } from './peak-rss.js';
import { openShop } from './shop-orm.js';

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
