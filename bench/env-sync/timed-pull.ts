import type { EntityManager } from '@mikro-orm/core';
import type { Throughput } from '../graph/measure.js';
import { since } from '../graph/measure.js';
import { pullOnce } from './pull.js';
import type { SourceServer } from './source-server.js';

/** A pull that ran (its rows and time), or the error it failed with. */
export type PullOutcome = ({ status: 'done' } & Throughput) | { status: 'failed'; message: string };

/** One `pullOnce` from `source` into the database of `target` (a fresh fork), timed from the call to its commit. */
export async function timedPull(source: SourceServer, target: { em: EntityManager }): Promise<PullOutcome> {
  const start = performance.now();
  try {
    const { rows } = await pullOnce(source, target.em.fork());
    return { status: 'done', rows, seconds: since(start) };
  } catch (error) {
    return { status: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}
