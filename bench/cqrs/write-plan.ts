// The write workload of part 1, generated once and replayed identically on every database:
// a sequence of flushes, each creating, updating and deleting accounts. Entities are named by
// their creation number (`ref`), which each run maps to the id its database assigned.

/** The fields a change writes. */
export interface AccountData {
  email?: string;
  name?: string;
  status?: string;
  balanceCents?: number;
  active?: boolean;
  notes?: string | null;
  updatedAt?: Date;
}

export type Change =
  | { op: 'create'; ref: number; data: Required<AccountData> }
  | { op: 'update'; ref: number; data: AccountData }
  | { op: 'delete'; ref: number };

/** Flushes in order; `changes` counts rows written, `live` the accounts left at the end. */
export interface WritePlan {
  flushes: Change[][];
  changes: number;
  creates: number;
  updates: number;
  deletes: number;
  live: number;
}

/** Options of `writePlan`. */
export interface WritePlanOptions {
  flushes: number;
  /** Changes per flush, drawn uniformly from this range. */
  perFlush: [number, number];
  seed?: number;
}

/** A small deterministic PRNG (mulberry32): the same seed gives the same workload on every run. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES = ['new', 'active', 'suspended', 'closed', 'vip'];
const WORDS = ['ledger', 'invoice', 'renewal', 'callback', 'discount', 'escalated', 'verified', 'pending', 'migrated', 'contract'];
const EPOCH = Date.UTC(2025, 0, 1);

/** The text of a notes column: 150-800 characters, so that a message is about 1 KB. */
export function notes(next: () => number): string {
  const words: string[] = [];
  for (let length = 0, target = 150 + Math.floor(next() * 650); length < target; length += words[words.length - 1]!.length + 1) {
    words.push(WORDS[Math.floor(next() * WORDS.length)]!);
  }
  return words.join(' ');
}

/** A new account's columns. */
export function newAccount(next: () => number, n: number): Required<AccountData> {
  return {
    email: `customer${n}@example.org`,
    name: `Customer ${n} ${WORDS[n % WORDS.length]}`,
    status: STATUSES[Math.floor(next() * STATUSES.length)]!,
    balanceCents: Math.floor(next() * 1_000_000),
    active: next() < 0.9,
    notes: notes(next),
    updatedAt: new Date(EPOCH + n * 1000),
  };
}

/** What an update changes: a few columns, as a form or a business rule would. */
export function accountUpdate(next: () => number, n: number): AccountData {
  const data: AccountData = { balanceCents: Math.floor(next() * 1_000_000), updatedAt: new Date(EPOCH + n * 1000) };
  if (next() < 0.5) data.status = STATUSES[Math.floor(next() * STATUSES.length)]!;
  if (next() < 0.3) data.notes = notes(next);
  if (next() < 0.2) data.name = `Renamed ${n}`;
  return data;
}

/**
 * Generates flushes of creates (about 45%), updates (40%) and deletes (15%) of live accounts.
 * A flush touches an account at most once and never one it creates, so every change is one
 * row change, one outbox entry and one revision.
 */
export function writePlan({ flushes: count, perFlush: [min, max], seed = 1 }: WritePlanOptions): WritePlan {
  const next = random(seed);
  const live: number[] = [];
  const plan: WritePlan = { flushes: [], changes: 0, creates: 0, updates: 0, deletes: 0, live: 0 };
  let created = 0;
  let stamp = 0;
  for (let f = 0; f < count; f++) {
    const size = min + Math.floor(next() * (max - min + 1));
    const flush: Change[] = [];
    const touched = new Set<number>();
    const born: number[] = [];
    for (let c = 0; c < size; c++) {
      const roll = next();
      // pick an untouched live account; a few tries, then create instead
      let pick = -1;
      for (let tries = 0; roll >= 0.45 && live.length > 20 && tries < 5 && pick < 0; tries++) {
        const i = Math.floor(next() * live.length);
        if (!touched.has(live[i]!)) pick = i;
      }
      if (pick < 0) {
        const ref = created++;
        flush.push({ op: 'create', ref, data: newAccount(next, ref) });
        born.push(ref);
        plan.creates += 1;
      } else if (roll < 0.85) {
        touched.add(live[pick]!);
        flush.push({ op: 'update', ref: live[pick]!, data: accountUpdate(next, ++stamp) });
        plan.updates += 1;
      } else {
        const ref = live[pick]!;
        live[pick] = live[live.length - 1]!;
        live.pop();
        touched.add(ref);
        flush.push({ op: 'delete', ref });
        plan.deletes += 1;
      }
    }
    live.push(...born);
    plan.flushes.push(flush);
    plan.changes += flush.length;
  }
  plan.live = live.length;
  return plan;
}
