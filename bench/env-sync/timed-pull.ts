import type { Throughput } from '../graph/measure.js';
import { since } from '../graph/measure.js';
import type { Orm } from './orm.js';
import { pullOnce, PULL_MISSING } from './pull.js';

/** A pull that ran (its rows and time), or why there is no figure: the seam is empty, or the pull failed. */
export type PullOutcome = ({ status: 'done' } & Throughput) | { status: 'missing' } | { status: 'failed'; message: string };

/** One `pullOnce` from `source` into `target` on fresh forks, timed from the call to its commit. */
export async function timedPull(source: Orm, target: Orm): Promise<PullOutcome> {
  const start = performance.now();
  try {
    const { rows } = await pullOnce(source.em.fork(), target.em.fork());
    return { status: 'done', rows, seconds: since(start) };
  } catch (error) {
    if (error instanceof Error && error.message === PULL_MISSING) return { status: 'missing' };
    return { status: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}
