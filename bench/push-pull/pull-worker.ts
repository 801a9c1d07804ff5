// The pulling client in a process of its own, so that the peak memory it reports is its own:
// `POST <prefix>/pull` in a loop with the checkpoint of each answer, until `hasMore` is false,
// each page parsed (response.json()) and its rows counted, as a client that stores them would; with
// `stream`, one request that accepts NDJSON, each line (an answer) parsed as soon as it is complete;
// with `stream-arrays`, the same with the rows as arrays of values (documents: 'arrays'), counted as parsed.
// Pages are read with fetch (what a browser client does); a stream through node:http, whose
// response is a Node stream of Buffers (what a Node client reads, and what the COPY limit's
// client, pg on a socket, reads too): fetch's web stream alone costs a 1M-row pull about 0.25 s of CPU.
//   pull-worker <prefix> <bearer token> <tenant> <limit> [stream | stream-arrays]
// Prints one JSON line: rows, pages, seconds (parseSeconds of them in JSON.parse), its CPU time over them, the last checkpoint, peakRssMb (VmHWM) and
// peakHeapMb (V8's used heap, sampled every 10 ms).
import { request } from 'node:http';
import { getHeapStatistics } from 'node:v8';
import { peakRssMb } from '../graph/peak-rss.js';
import { since } from '../graph/measure.js';

interface Page { checkpoint: string; hasMore: boolean; changes: { model: string; fields?: string[]; upserted: unknown[]; deleted: unknown[] }[] }

const [prefix, token, tenant, limit, mode] = process.argv.slice(2) as [string, string, string, string, string | undefined];
const streamed = mode === 'stream' || mode === 'stream-arrays';
const arrays = mode === 'stream-arrays';
let peakHeap = getHeapStatistics().used_heap_size;
const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size)), 10);
const start = performance.now();
const cpuFrom = process.cpuUsage();
let checkpoint: string | null = null;
let rows = 0;
let pages = 0;
let parseSeconds = 0;
/** Answers of a streamed pull (NDJSON, `accept: application/x-ndjson`), each line parsed as it is complete. */
async function* streamedAnswers(body: AsyncIterable<Buffer>): AsyncGenerator<Page> {
  let held: Buffer[] = [];
  for await (let chunk of body) {
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10)) {
      const line = held.length ? Buffer.concat([...held, chunk.subarray(0, end)]) : chunk.subarray(0, end);
      held = [];
      const parsing = performance.now();
      const page = JSON.parse(line.toString('utf8')) as Page;
      parseSeconds += since(parsing);
      yield page;
      chunk = chunk.subarray(end + 1);
    }
    if (chunk.length) held.push(chunk);
  }
}

/** One streamed pull through node:http: the response, a Node stream of Buffers, read as it comes. */
function streamedPull(body: string): Promise<AsyncIterable<Buffer>> {
  return new Promise((resolve, reject) => {
    const sent = request(`${prefix}/pull`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/x-ndjson' },
      signal: AbortSignal.timeout(120_000),
    }, (response) => {
      if (response.statusCode === 200) return resolve(response);
      let text = '';
      response.setEncoding('utf8').on('data', (part: string) => (text += part)).on('end', () => reject(new Error(`POST /pull answered ${response.statusCode}: ${text}`)));
    });
    sent.on('error', reject).end(body);
  });
}

for (let more = true; more;) {
  if (streamed) {
    const body = await streamedPull(JSON.stringify({ tenant, checkpoint, limit: Number(limit), ...(arrays ? { documents: 'arrays' } : {}) }));
    for await (const page of streamedAnswers(body)) {
      for (const change of page.changes) rows += change.upserted.length;
      pages += 1;
      ({ checkpoint, hasMore: more } = page);
    }
    continue;
  }
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
const cpu = process.cpuUsage(cpuFrom);
clearInterval(sampler);
peakHeap = Math.max(peakHeap, getHeapStatistics().used_heap_size);
console.log(JSON.stringify({ rows, pages, seconds, parseSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, checkpoint, peakRssMb: peakRssMb(), peakHeapMb: peakHeap / 1048576 }));
