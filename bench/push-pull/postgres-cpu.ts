import { readdirSync, readFileSync } from 'node:fs';

// Linux's clock ticks per second for /proc/<pid>/stat (USER_HZ), 100 on every common build.
const TICKS = 100;

/**
 * The CPU time (s) used so far by every process named `postgres` (the cluster's server and its
 * backends, ended ones not counted), from /proc; undefined where there is no /proc. Taken before and
 * after a run, and with one connection kept open across it, the difference is that run's work.
 */
export function postgresCpuSeconds(): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      // after the name: state (3), ..., utime (14), stime (15)
      const fields = stat.slice(close + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended meanwhile
    }
  }
  return ticks / TICKS;
}
