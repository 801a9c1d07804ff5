// One diff bench run in a process of its own, so that its peak memory is its own:
//   diff-worker <map | hash | merge> <rows>
// map: the hand-written baseline over records in memory (a Map of the right side by id, then a
// pass over the left comparing each field); hash: diff() of the same records in memory; merge:
// diff() of two sorted sources made as they are read (nothing in memory). Prints one JSON line:
// rows, seconds (the comparison alone), updates found, peakRssMb.
import { diff, fromRecords } from '@entity-sync/core';
import { peakRssMb } from '../graph/peak-rss.js';
import { since } from '../graph/measure.js';
import { recordOf, recordsOf, type BenchRecord } from './records.js';

const [mode, rowsText] = process.argv.slice(2) as ['map' | 'hash' | 'merge', string];
const rows = Number(rowsText);
let updates = 0;
let seconds: number;
if (mode === 'merge') {
  const start = performance.now();
  const result = await diff(fromRecords('left', () => recordsOf(rows, 'left'), { sortedBy: 'id' }), fromRecords('right', () => recordsOf(rows, 'right'), { sortedBy: 'id' }), { key: 'id' });
  seconds = since(start);
  updates = result.counts.update;
} else {
  const left = Array.from({ length: rows }, (_, i) => recordOf(i + 1, 'left'));
  const right = Array.from({ length: rows }, (_, i) => recordOf(i + 1, 'right'));
  const start = performance.now();
  if (mode === 'map') {
    const byId = new Map<number, BenchRecord>();
    for (const record of right) byId.set(record.id, record);
    const fields = ['name', 'homeroom', 'score'] as const;
    for (const record of left) {
      const other = byId.get(record.id);
      if (other && fields.some((field) => record[field] !== other[field])) updates++;
    }
  } else {
    updates = (await diff(fromRecords('left', left), fromRecords('right', right), { key: 'id' })).counts.update;
  }
  seconds = since(start);
}
console.log(JSON.stringify({ rows, seconds, updates, peakRssMb: peakRssMb() }));
