import { Account } from './entities.js';
import { clock, sleep } from './clock.js';
import type { Orm } from './orm.js';
import { accountUpdate, newAccount, random } from './write-plan.js';

/** Options of `writeSteadily`. */
export interface SteadyWriteOptions {
  /** Changes per second, all writers together. */
  rate: number;
  seconds: number;
  /** Concurrent writers (connections), each committing its share of the schedule. */
  writers: number;
}

/** What the writers committed: when (`clock()` ms), keyed `id/revision`. */
export interface SteadyWrite {
  commits: Map<string, number>;
  /** `clock()` of the first scheduled change and of the last commit. */
  started: number;
  finished: number;
  /** How far behind schedule a change started, at worst (ms). */
  worstLateMs: number;
}

/**
 * Commits one change of an account per transaction (45% creates, 40% updates, 15% deletes),
 * change k of all writers at `start + k / rate`: the schedule is absolute, so a late change
 * does not push back the ones after it. Each writer changes only its own accounts and counts
 * their revisions (a create is revision 1, every later change adds one), which is how a
 * commit is matched with its apply on the replica.
 */
export async function writeSteadily(orm: Orm, options: SteadyWriteOptions): Promise<SteadyWrite> {
  const total = Math.round(options.rate * options.seconds);
  const commits = new Map<string, number>();
  const started = clock() + 20;
  let worstLateMs = 0;
  const writer = async (w: number) => {
    const next = random(1000 + w);
    const live: number[] = [];
    const revisions = new Map<number, number>();
    for (let k = w; k < total; k += options.writers) {
      const due = started + (k * 1000) / options.rate;
      await sleep(due - clock());
      worstLateMs = Math.max(worstLateMs, clock() - due);
      const em = orm.em.fork();
      const roll = next();
      let id: number;
      if (live.length < 20 || roll < 0.45) {
        const account = em.create(Account, newAccount(next, k));
        await em.flush();
        id = account.id;
        live.push(id);
      } else if (roll < 0.85) {
        id = live[Math.floor(next() * live.length)]!;
        Object.assign(em.getReference(Account, id), accountUpdate(next, k));
        await em.flush();
      } else {
        const i = Math.floor(next() * live.length);
        id = live[i]!;
        live[i] = live[live.length - 1]!;
        live.pop();
        em.remove(em.getReference(Account, id));
        await em.flush();
      }
      const revision = (revisions.get(id) ?? 0) + 1;
      revisions.set(id, revision);
      commits.set(`${id}/${revision}`, clock());
    }
  };
  await Promise.all(Array.from({ length: options.writers }, (_, w) => writer(w)));
  return { commits, started, finished: clock(), worstLateMs };
}
