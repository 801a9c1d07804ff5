import { installOutbox } from '@entity-sync/adapters/mikro-orm';
import type { PostgresCluster } from '@entity-sync/testing';
import type { Throughput } from '../graph/measure.js';
import { openMaster, type Orm } from './orm.js';
import { replayWrites } from './replay-writes.js';
import { sql, tableDigest } from './table-digest.js';
import type { WritePlan } from './write-plan.js';

/** Three identical databases: one with the outbox and its capture trigger, one with WAL capture, one with neither. */
export interface WriteTargets {
  outbox: { orm: Orm; url: string };
  wal: { orm: Orm; url: string };
  plain: { orm: Orm; url: string };
}

/** Timed runs of one plan on the three databases; `problems` lists every check that failed. */
export interface WriteComparison {
  withOutbox: Throughput[];
  withWal: Throughput[];
  without: Throughput[];
  problems: string[];
}

/** Creates the three databases of part 1. */
export async function writeTargets(cluster: PostgresCluster): Promise<WriteTargets> {
  const target = async (name: string) => {
    await cluster.createDatabase(name);
    return { orm: await openMaster(cluster.url(name)), url: cluster.url(name) };
  };
  const outbox = await target('writes_outbox');
  await installOutbox(outbox.orm.em.fork());
  const wal = await target('writes_wal');
  await installOutbox(wal.orm.em.fork(), { capture: 'wal' });
  return { outbox, wal, plain: await target('writes_plain') };
}

const SLOT = "(SELECT slot_name FROM pg_replication_slots WHERE database = current_database())";

// Every run starts from the same empty tables (and sequences), so that runs are comparable; the WAL
// slot is moved past the last run's changes (a relay's work, not the writers').
async function reset(targets: WriteTargets): Promise<void> {
  await sql(targets.outbox.url, 'TRUNCATE account, entity_sync_outbox, entity_sync_revision RESTART IDENTITY', 'CHECKPOINT');
  await sql(targets.wal.url, 'TRUNCATE account, entity_sync_revision RESTART IDENTITY', `SELECT pg_replication_slot_advance(${SLOT}, pg_current_wal_insert_lsn())`, 'CHECKPOINT');
  await sql(targets.plain.url, 'TRUNCATE account RESTART IDENTITY', 'CHECKPOINT');
}

// The row changes the WAL slot holds: pgoutput's insert, update and delete messages. Decoding reads flushed WAL only,
// and the bench cluster commits asynchronously: one synchronous commit first flushes what came before it.
async function slotChanges(url: string): Promise<number> {
  const [{ n }] = await sql<{ n: string }>(url, 'BEGIN', 'SET LOCAL synchronous_commit = on', "SELECT pg_logical_emit_message(true, 'bench', 'flush')", 'COMMIT',
    `SELECT count(*) AS n FROM pg_logical_slot_peek_binary_changes(${SLOT}, NULL, NULL, 'proto_version', '1', ` +
    `'publication_names', ${SLOT}) WHERE get_byte(data, 0) IN (73, 85, 68)`) as [{ n: string }];
  return Number(n);
}

const SIDES = ['outbox', 'wal', 'plain'] as const;

/**
 * Replays `plan` on the three databases, in an order that rotates every run so that a noisy
 * neighbour slows all alike, and checks after every round that the tables hold the same rows,
 * that the outbox holds one entry per change and the WAL slot one change per change.
 */
export async function compareWrites(targets: WriteTargets, plan: WritePlan, runs: number): Promise<WriteComparison> {
  const result: WriteComparison = { withOutbox: [], withWal: [], without: [], problems: [] };
  const times = { outbox: result.withOutbox, wal: result.withWal, plain: result.without };
  for (let run = 0; run < runs; run++) {
    await reset(targets);
    for (const side of [...SIDES.slice(run % 3), ...SIDES.slice(0, run % 3)]) {
      times[side].push({ rows: plan.changes, seconds: await replayWrites(targets[side].orm, plan) });
    }
    const [a, w, b] = await Promise.all(SIDES.map((side) => tableDigest(targets[side].url, 'account')));
    if ([a, w, b].some((digest) => digest!.rows !== plan.live || digest!.hash !== b!.hash)) {
      result.problems.push(`run ${run + 1}: account rows ${a!.rows} (outbox) / ${w!.rows} (WAL) / ${b!.rows} (plain), expected ${plan.live}, ` +
        `hashes ${a!.hash === b!.hash && w!.hash === b!.hash ? 'equal' : 'differ'}`);
    }
    const [{ n }] = (await sql<{ n: string }>(targets.outbox.url, 'SELECT count(*) AS n FROM entity_sync_outbox')) as [{ n: string }];
    if (Number(n) !== plan.changes) result.problems.push(`run ${run + 1}: ${n} outbox entries for ${plan.changes} changes`);
    const captured = await slotChanges(targets.wal.url);
    if (captured !== plan.changes) result.problems.push(`run ${run + 1}: the WAL slot holds ${captured} row changes for ${plan.changes} changes`);
  }
  return result;
}
