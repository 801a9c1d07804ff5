// One pull in a process of its own, so that the peak memory it reports is the pull's and not
// the bench's (the pattern of ../graph/memory-worker.ts).
//   pull-worker <idle|pull> <source url> <target url>
// Prints one JSON line: the pull's outcome with peakRssMb (VmHWM) and peakHeapMb (V8's used
// heap, sampled every 10 ms).
import { peakRssMb } from '../graph/peak-rss.js';
import { openReferenceData } from './orm.js';
import { timedPull, type PullOutcome } from './timed-pull.js';

const [mode, sourceUrl, targetUrl] = process.argv.slice(2) as [string, string, string];
const [source, target] = await Promise.all([openReferenceData(sourceUrl), openReferenceData(targetUrl)]);
let peakHeap = process.memoryUsage().heapUsed;
const sampler = setInterval(() => (peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)), 10);
let outcome: PullOutcome = { status: 'done', rows: 0, seconds: 0 };
try {
  if (mode === 'pull') outcome = await timedPull(source, target);
} finally {
  clearInterval(sampler);
  await Promise.allSettled([source.close(), target.close()]);
}
peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
console.log(JSON.stringify({ ...outcome, peakRssMb: peakRssMb(), peakHeapMb: peakHeap / 1048576 }));
