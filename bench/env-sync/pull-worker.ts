// One pull in a process of its own, so that the peak memory it reports is the pulling side's
// alone: the target's ORM and the HTTP client; the source server runs in a process of its own
// (./serve-worker.ts), the bench in another (the pattern of ../graph/memory-worker.ts).
//   pull-worker <idle|pull> <source server url> <token> <target url>
// Prints one JSON line: the pull's outcome with peakRssMb (VmHWM) and peakHeapMb (V8's used
// heap, sampled every 10 ms).
import { peakRssMb } from '../graph/peak-rss.js';
import { openReferenceData } from './orm.js';
import { timedPull, type PullOutcome } from './timed-pull.js';

const [mode, url, token, targetUrl] = process.argv.slice(2) as [string, string, string, string];
const target = await openReferenceData(targetUrl);
let peakHeap = process.memoryUsage().heapUsed;
const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 10);
let outcome: PullOutcome = { status: 'done', rows: 0, seconds: 0 };
try {
  if (mode === 'pull') outcome = await timedPull({ url, token, close: async () => {} }, target);
} finally {
  clearInterval(sampler);
  await target.close();
}
peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
console.log(JSON.stringify({ ...outcome, peakRssMb: peakRssMb(), peakHeapMb: peakHeap / 1048576 }));
