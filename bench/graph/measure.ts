/** Seconds since `start`, a `performance.now()` value. */
export const since = (start: number) => (performance.now() - start) / 1000;

/** Rows and the seconds they took. */
export interface Throughput {
  rows: number;
  seconds: number;
}

export const perSecond = ({ rows, seconds }: Throughput) => rows / seconds;

export const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** `1,000,000 rows in 3.21 s = 311,526 rows/s` */
export const describe = (t: Throughput) => `${int(t.rows)} rows in ${t.seconds.toFixed(2)} s = ${int(perSecond(t))} rows/s`;

/** The fastest of repeated runs: on a shared machine the least disturbed one is the closest to the truth. */
export function fastest<T extends Throughput>(runs: T[]): T {
  return runs.reduce((best, run) => (run.seconds < best.seconds ? run : best));
}

/** `best of 3 (9.86, 9.51, 9.70 s)` */
export const runsNote = (runs: Throughput[]) =>
  runs.length === 1 ? '1 run' : `best of ${runs.length} (${runs.map((run) => run.seconds.toFixed(2)).join(', ')} s)`;
