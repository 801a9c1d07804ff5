// Diff bench: 1M vs 1M records with 1% changed (bench/diff/records.ts), each run in a process of its own.
//  1. in memory: diff() (hashed) against the hand-written baseline, a Map of one side and a pass over the other;
//  2. the sorted streaming merge of the same records made as they are read, at 200,000 and 1M rows: its memory stays flat.
//  3. two PostgreSQL tables of as many rows with 100 differences (bench/diff/tables.ts): in one database against count(*)
//     of both and against a full join of both by key that compares nothing,
//     across two clusters against an aggregate md5 of both and against fetching both whole.
//   --rows N   records a side (default 1,000,000)   --runs N   runs of each, the fastest counting (default 3)
import { parseArgs } from 'node:util';
import { runSibling } from '../graph/child.js';
import { describe, fastest, int, perSecond, since, type Throughput } from '../graph/measure.js';
import { percent, printSummary, times, type Verdict } from '../graph/report.js';
import { measureTables } from './tables.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' } } });
const rows = Number(args.rows);
const runs = Number(args.runs);
const small = Math.max(1000, Math.round(rows / 5));
const targets = { vsMap: 1.5, flatMb: 50, vsCount: 2, vsJoin: 2, vsMd5: 2, vsWhole: 5 };
interface Run extends Throughput { updates: number; peakRssMb: number }
const started = performance.now();
const say = (line = '') => console.log(line);
const mb = (value: number) => `${value.toFixed(0)} MB`;

const measure = async (mode: 'map' | 'hash' | 'merge', count: number) => {
  const done: Run[] = [];
  for (let run = 0; run < runs; run++) {
    const result = await runSibling<Run>('../diff/diff-worker', [mode, String(count)]);
    done.push(result);
    say(`  ${`${mode} ${int(count)}, run ${run + 1}`.padEnd(28)}${describe(result)}; ${int(result.updates)} updates; peak RSS ${mb(result.peakRssMb)}`);
  }
  const best = fastest(done);
  if (best.updates !== Math.floor(count / 100)) say(`  CHECK FAILED: ${int(best.updates)} updates found, ${int(Math.floor(count / 100))} made`);
  return { best, peak: Math.max(...done.map((run) => run.peakRssMb)) };
};

say(`DIFF of ${int(rows)} vs ${int(rows)} records (1% changed), ${runs} runs of each by turns, the fastest counting; peak RSS (VmHWM) of each process`);
say('IN MEMORY: the records of both sides in arrays before the clock starts');
const map = await measure('map', rows);
const hash = await measure('hash', rows);
say(`  diff() in memory: ${times(hash.best.seconds / map.best.seconds)} the time of the Map pass`);
say('SORTED MERGE: both sides made in key order as they are read, nothing held');
const mergeSmall = await measure('merge', small);
const merge = await measure('merge', rows);
say(`  peak RSS ${mb(mergeSmall.peak)} at ${int(small)} rows a side, ${mb(merge.peak)} at ${int(rows)}`);
say(`TWO POSTGRESQL TABLES of ${int(rows)} rows with 100 differences, two clusters on this machine`);
const tables = await measureTables(rows, runs, say);
const allFound = tables.found.sql === 100 && tables.found.bisect === 100 && tables.found.whole === 100;
if (!allFound) say(`  CHECK FAILED: differences found ${JSON.stringify(tables.found)}, 100 made`);
say();
say(`SUMMARY at ${int(rows)} records a side`);
const verdicts: Verdict[] = [
  { figure: 'in memory, hashed vs a Map pass', measured: `${hash.best.seconds.toFixed(2)} s`, baseline: `${map.best.seconds.toFixed(2)} s`, ratio: times(hash.best.seconds / map.best.seconds),
    target: `<= ${targets.vsMap}x`, met: hash.best.updates === rows / 100 && hash.best.seconds / map.best.seconds <= targets.vsMap },
  { figure: 'in memory, hashed: peak RSS', measured: mb(hash.peak), baseline: mb(map.peak), ratio: percent(hash.peak / map.peak), target: '(printed)', met: true },
  { figure: 'sorted merge: rows/s', measured: `${int(perSecond(merge.best))} rows/s`, baseline: `${int(perSecond(map.best))} rows/s`, ratio: percent(perSecond(merge.best) / perSecond(map.best)),
    target: '(printed)', met: merge.best.updates === rows / 100 },
  { figure: `sorted merge: peak RSS, ${int(small)} -> ${int(rows)} rows`, measured: mb(merge.peak), baseline: mb(mergeSmall.peak), ratio: `+${mb(merge.peak - mergeSmall.peak)}`,
    target: `flat (< +${targets.flatMb} MB)`, met: merge.peak - mergeSmall.peak < targets.flatMb },
  { figure: 'one database, two tables vs count(*) of both', measured: `${tables.sql.toFixed(2)} s`, baseline: `${tables.count.toFixed(2)} s`, ratio: times(tables.sql / tables.count),
    target: `<= ${targets.vsCount}x`, met: allFound && tables.sql / tables.count <= targets.vsCount },
  { figure: 'one database vs a full join by key, nothing compared', measured: `${tables.sql.toFixed(2)} s`, baseline: `${tables.join.toFixed(2)} s`, ratio: times(tables.sql / tables.join),
    target: `<= ${targets.vsJoin}x`, met: allFound && tables.sql / tables.join <= targets.vsJoin },
  { figure: 'two databases, 100 differences vs md5 of both', measured: `${tables.bisect.toFixed(2)} s`, baseline: `${tables.md5.toFixed(2)} s`, ratio: times(tables.bisect / tables.md5),
    target: `<= ${targets.vsMd5}x`, met: allFound && tables.bisect / tables.md5 <= targets.vsMd5 },
  { figure: 'two databases vs fetching both whole', measured: `${tables.bisect.toFixed(2)} s`, baseline: `${tables.whole.toFixed(2)} s`, ratio: `${times(tables.whole / tables.bisect)} faster`,
    target: `>= ${targets.vsWhole}x faster`, met: allFound && tables.whole / tables.bisect >= targets.vsWhole },
];
printSummary(verdicts);
say(`bench took ${since(started).toFixed(0)} s`);
