import { installAudit } from '@entity-sync/adapters/mikro-orm';
import { since, type Throughput } from '../graph/measure.js';
import { PpItem, PULLED_TENANT } from './entities.js';
import type { Orm } from './orm.js';
import { pushBatches } from './push.js';

/** The fastest run with the audit trail on and the fastest with it off, of pushes and of flushes. */
export interface AuditCost {
  pushOff: Throughput;
  pushOn: Throughput;
  flushOff: Throughput;
  flushOn: Throughput;
  /** The fewest trail entries a flush with the trail on wrote (the rows changed, if it records each). */
  entriesPerFlush: number;
}

const FLUSHES_A_ROUND = 5;

const fastest = (runs: Throughput[]) => runs.reduce((best, run) => (run.rows / run.seconds > best.rows / best.seconds ? run : best));

/**
 * The cost of the audit trail on PpItem: by turns with the trail off (no trigger) and on
 * (`installAudit` with `models: ['PpItem']`), `pushes` pushes of `batch` rows through POST /push
 * (half creating rows, half updating them), and five `em.flush()`es of `flushRows` changed rows
 * loaded by the unit of work; `rounds` of each, the fastest counting.
 */
export async function measureAuditCost(orm: Orm, prefix: string, token: string, checkpoint: string | null, firstId: number,
  options: { rounds: number; pushes: number; batch: number; flushRows: number }): Promise<AuditCost> {
  const runs = { off: { push: [] as Throughput[], flush: [] as Throughput[] }, on: { push: [] as Throughput[], flush: [] as Throughput[] } };
  let entriesPerFlush = Infinity;
  let next = firstId;
  const trail = async () => Number((await orm.em.getConnection().execute<{ n: string }[]>('SELECT count(*)::text AS n FROM entity_sync_audit'))[0]!.n);
  for (let round = 0; round < options.rounds; round++) {
    for (const mode of ['off', 'on'] as const) {
      // installAudit without models drops the trigger of an entity no decorator audits
      await installAudit(orm.em.fork(), mode === 'on' ? { models: ['PpItem'] } : {});
      const pushed = await pushBatches(prefix, token, checkpoint, next, options.pushes, options.batch, `audit-${mode}-${round}-`);
      if (pushed.notApplied) throw new Error(`${pushed.notApplied} pushed rows were not applied`);
      next += options.pushes * options.batch;
      runs[mode].push.push(pushed);
      // a flush takes tens of milliseconds: several a round, so that the fastest is not one lucky or unlucky moment
      for (let flush = 0; flush < FLUSHES_A_ROUND; flush++) {
        const em = orm.em.fork();
        const items = await em.find(PpItem, { tenant: PULLED_TENANT }, { orderBy: { id: 'asc' }, limit: options.flushRows });
        for (const item of items) item.quantity += 1;
        const before = mode === 'on' ? await trail() : 0;
        const start = performance.now();
        await em.flush();
        runs[mode].flush.push({ rows: items.length, seconds: since(start) });
        if (mode === 'on') entriesPerFlush = Math.min(entriesPerFlush, (await trail()) - before);
      }
    }
  }
  await installAudit(orm.em.fork(), {});
  return { pushOff: fastest(runs.off.push), pushOn: fastest(runs.on.push), flushOff: fastest(runs.off.flush), flushOn: fastest(runs.on.flush), entriesPerFlush };
}
