// The pulling client in a process of its own, so that the peak memory it reports is its own:
// `POST <prefix>/pull` in a loop with the checkpoint of each answer, until `hasMore` is false,
// each page parsed (response.json()) and its rows counted, as a client that stores them would.
//   pull-worker <prefix> <bearer token> <tenant> <limit>
// Prints one JSON line: rows, pages, seconds (parseSeconds of them in JSON.parse), the last checkpoint, peakRssMb (VmHWM) and
// peakHeapMb (V8's used heap, sampled every 10 ms).
import { peakRssMb } from '../graph/peak-rss.js';
import { since } from '../graph/measure.js';

interface Page { checkpoint: string; hasMore: boolean; changes: { model: string; upserted: unknown[]; deleted: unknown[] }[] }

const [prefix, token, tenant, limit] = process.argv.slice(2) as [string, string, string, string];
let peakHeap = process.memoryUsage().heapUsed;
const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 10);
const start = performance.now();
let checkpoint: string | null = null;
let rows = 0;
let pages = 0;
let parseSeconds = 0;
for (let more = true; more;) {
  const response = await fetch(`${prefix}/pull`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ tenant, checkpoint, limit: Number(limit) }),
    signal: AbortSignal.timeout(120_000),
  });
  if (!response.ok) throw new Error(`POST /pull answered ${response.status}: ${await response.text()}`);
  // read whole, then parsed (what response.json() does), the parse timed on its own
  const body = Buffer.from(await response.arrayBuffer());
  const parsing = performance.now();
  const page = JSON.parse(body.toString('utf8')) as Page;
  parseSeconds += since(parsing);
  for (const change of page.changes) rows += change.upserted.length;
  pages += 1;
  ({ checkpoint, hasMore: more } = page);
}
const seconds = since(start);
clearInterval(sampler);
peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
console.log(JSON.stringify({ rows, pages, seconds, parseSeconds, checkpoint, peakRssMb: peakRssMb(), peakHeapMb: peakHeap / 1048576 }));
