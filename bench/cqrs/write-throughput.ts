import { installOutbox } from '@entity-sync/adapters/mikro-orm';
import type { PostgresCluster } from '@entity-sync/testing';
import type { Throughput } from '../graph/measure.js';
import { openMaster, type Orm } from './orm.js';
import { replayWrites } from './replay-writes.js';
import { sql, tableDigest } from './table-digest.js';
import type { WritePlan } from './write-plan.js';

/** Two identical databases, one with the outbox and its capture trigger, one without. */
export interface WriteTargets {
  outbox: { orm: Orm; url: string };
  plain: { orm: Orm; url: string };
}

/** Timed runs of one plan on both databases; `problems` lists every check that failed. */
export interface WriteComparison {
  withOutbox: Throughput[];
  without: Throughput[];
  problems: string[];
}

/** Creates the two databases of part 1. */
export async function writeTargets(cluster: PostgresCluster): Promise<WriteTargets> {
  const target = async (name: string) => {
    await cluster.createDatabase(name);
    return { orm: await openMaster(cluster.url(name)), url: cluster.url(name) };
  };
  const outbox = await target('writes_outbox');
  await installOutbox(outbox.orm.em.fork());
  return { outbox, plain: await target('writes_plain') };
}

// Every run starts from the same empty tables (and sequences), so that runs are comparable.
async function reset(targets: WriteTargets): Promise<void> {
  await sql(targets.outbox.url, 'TRUNCATE account, entity_sync_outbox, entity_sync_revision RESTART IDENTITY', 'CHECKPOINT');
  await sql(targets.plain.url, 'TRUNCATE account RESTART IDENTITY', 'CHECKPOINT');
}

/**
 * Replays `plan` on the database with the outbox and on the one without, alternating
 * (A, B, A, B...) so that a noisy neighbour slows both alike, and checks after every pair that
 * both tables hold the same rows and that the outbox holds one entry per change.
 */
export async function compareWrites(targets: WriteTargets, plan: WritePlan, runs: number): Promise<WriteComparison> {
  const result: WriteComparison = { withOutbox: [], without: [], problems: [] };
  for (let run = 0; run < runs; run++) {
    await reset(targets);
    const order = run % 2 === 0 ? (['outbox', 'plain'] as const) : (['plain', 'outbox'] as const);
    for (const side of order) {
      const seconds = await replayWrites(targets[side].orm, plan);
      (side === 'outbox' ? result.withOutbox : result.without).push({ rows: plan.changes, seconds });
    }
    const [a, b] = await Promise.all([tableDigest(targets.outbox.url, 'account'), tableDigest(targets.plain.url, 'account')]);
    if (a.rows !== plan.live || b.rows !== plan.live || a.hash !== b.hash) {
      result.problems.push(`run ${run + 1}: account rows ${a.rows} (outbox) / ${b.rows} (plain), expected ${plan.live}, hashes ${a.hash === b.hash ? 'equal' : 'differ'}`);
    }
    const [{ n }] = (await sql<{ n: string }>(targets.outbox.url, 'SELECT count(*) AS n FROM entity_sync_outbox')) as [{ n: string }];
    if (Number(n) !== plan.changes) result.problems.push(`run ${run + 1}: ${n} outbox entries for ${plan.changes} changes`);
  }
  return result;
}
