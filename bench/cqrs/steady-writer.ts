import pg from 'pg';
import { clock, sleep } from './clock.js';
import { accountUpdate, newAccount, random, type AccountData } from './write-plan.js';

/** Options of `writeSteadily`. */
export interface SteadyWriteOptions {
  /** The master database, with the outbox installed. */
  url: string;
  /** Changes per second, all writers together. */
  rate: number;
  seconds: number;
  /** Concurrent writers (connections), each committing its share of the schedule. */
  writers: number;
  /** Commit synchronously (the cluster's default is off): a WAL reader sees a commit once it is flushed. */
  synchronousCommit?: boolean;
}

/** What the writers committed: when (`clock()` ms), keyed `id/revision`. */
export interface SteadyWrite {
  commits: Map<string, number>;
  /** `clock()` of the first scheduled change and of the last commit. */
  started: number;
  finished: number;
  /** How far behind schedule a change started, at worst and at the 99th percentile (ms). */
  worstLateMs: number;
  p99LateMs: number;
}

const COLUMNS: Record<keyof AccountData, string> = {
  email: 'email', name: 'name', status: 'status', balanceCents: 'balance_cents', active: 'active', notes: 'notes', updatedAt: 'updated_at',
};

// One change as one autocommitted statement: the capture trigger runs as under any client, and the
// load generator stays cheap enough to keep its schedule on the machine it shares with what it measures.
function statement(data: AccountData, id?: number): { text: string; values: unknown[] } {
  const entries = Object.entries(data) as [keyof AccountData, unknown][];
  const values = entries.map(([, value]) => value);
  if (id === undefined) {
    return {
      text: `INSERT INTO account (${entries.map(([field]) => COLUMNS[field]).join(', ')}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
      values,
    };
  }
  return { text: `UPDATE account SET ${entries.map(([field], i) => `${COLUMNS[field]} = $${i + 2}`).join(', ')} WHERE id = $1`, values: [id, ...values] };
}

/**
 * Commits one change of an account per transaction (45% creates, 40% updates, 15% deletes),
 * change k of all writers at `start + k / rate`: the schedule is absolute, so a late change
 * does not push back the ones after it. Each writer is one connection that changes only its
 * own accounts and counts their revisions (a create is revision 1, every later change adds
 * one), which is how a commit is matched with its apply on the replica. The commit time is
 * taken when the database answered the statement, not when it was due.
 */
export async function writeSteadily(options: SteadyWriteOptions): Promise<SteadyWrite> {
  const total = Math.round(options.rate * options.seconds);
  const commits = new Map<string, number>();
  const late: number[] = [];
  const clients = await Promise.all(Array.from({ length: options.writers }, async () => {
    const client = new pg.Client({ connectionString: options.url });
    await client.connect();
    if (options.synchronousCommit) await client.query('SET synchronous_commit = on');
    return client;
  }));
  const started = clock() + 20;
  const writer = async (w: number) => {
    const client = clients[w]!;
    const next = random(1000 + w);
    const live: number[] = [];
    const revisions = new Map<number, number>();
    for (let k = w; k < total; k += options.writers) {
      const due = started + (k * 1000) / options.rate;
      await sleep(due - clock());
      late.push(clock() - due);
      const roll = next();
      let id: number;
      if (live.length < 20 || roll < 0.45) {
        const { rows } = await client.query<{ id: number }>(statement(newAccount(next, k)));
        id = rows[0]!.id;
        live.push(id);
      } else if (roll < 0.85) {
        id = live[Math.floor(next() * live.length)]!;
        await client.query(statement(accountUpdate(next, k), id));
      } else {
        const i = Math.floor(next() * live.length);
        id = live[i]!;
        live[i] = live[live.length - 1]!;
        live.pop();
        await client.query('DELETE FROM account WHERE id = $1', [id]);
      }
      const revision = (revisions.get(id) ?? 0) + 1;
      revisions.set(id, revision);
      commits.set(`${id}/${revision}`, clock());
    }
  };
  let finished: number;
  try {
    await Promise.all(clients.map((_, w) => writer(w)));
    finished = clock();
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
  late.sort((a, b) => a - b);
  return { commits, started, finished, worstLateMs: late.at(-1) ?? 0, p99LateMs: late[Math.ceil(late.length * 0.99) - 1] ?? 0 };
}
