import type { EntityManager } from '@mikro-orm/core';
import { Account } from './entities.js';
import type { Orm } from './orm.js';
import type { WritePlan } from './write-plan.js';

/**
 * Replays a write plan through MikroORM's unit of work, one fork and one flush (one transaction)
 * per planned flush. Updates and deletes go through `getReference`, so that nothing but the
 * writes themselves is timed (no SELECT before a change). Returns the seconds it took.
 */
export async function replayWrites(orm: Orm, plan: WritePlan): Promise<number> {
  const ids: number[] = [];
  const start = performance.now();
  for (const flush of plan.flushes) {
    const em: EntityManager = orm.em.fork();
    const born: [number, Account][] = [];
    for (const change of flush) {
      if (change.op === 'create') born.push([change.ref, em.create(Account, change.data)]);
      else if (change.op === 'update') Object.assign(em.getReference(Account, ids[change.ref]!), change.data);
      else em.remove(em.getReference(Account, ids[change.ref]!));
    }
    await em.flush();
    for (const [ref, account] of born) ids[ref] = account.id;
  }
  return (performance.now() - start) / 1000;
}
