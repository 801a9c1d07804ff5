import { SignJWT } from 'jose';
import { percentile } from '../cqrs/latency.js';
import { PULLED_TENANT } from './entities.js';
import { WRITER } from './generate.js';

/** A JWT for `subject` with the push/pull rights, the pulled tenant, `roles` as `sync_roles`, for an hour. */
export function userToken(secret: string, subject: string, roles: string[]): Promise<string> {
  return new SignJWT({ scope: 'push-pull:pull push-pull:push', tenants: [PULLED_TENANT], sync_roles: roles })
    .setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setExpirationTime('1h').sign(new TextEncoder().encode(secret));
}

/** Push latencies (ms, sorted) and the rows written per second of pushing. */
export interface PushRun {
  latencies: number[];
  rows: number;
  seconds: number;
  /** Rows whose result was not created / updated (none expected). */
  notApplied: number;
}

/**
 * `pushes` pushes of `batch` rows each, one after the other, as the writer user (its role may
 * create and update only rows it owns: every row is checked against that filter): the first half
 * creates rows with ids from `firstId`, the second half updates them. Mutation ids are `<mutationPrefix>m<n>`:
 * a run after another needs a prefix of its own, or its pushes are replays.
 */
export async function pushBatches(prefix: string, token: string, checkpoint: string | null, firstId: number, pushes: number, batch: number, mutationPrefix = ''): Promise<PushRun> {
  const latencies: number[] = [];
  let notApplied = 0;
  const creates = Math.ceil(pushes / 2);
  for (let p = 0; p < pushes; p++) {
    const base = firstId + (p % creates) * batch;
    const changes = Array.from({ length: batch }, (_, i) => ({
      model: 'PpItem',
      id: base + i,
      doc: { tenant: PULLED_TENANT, owner: WRITER, title: `pushed ${base + i} ${p}`, amount: p + i / 10, quantity: p, done: p >= creates, updatedAt: new Date().toISOString() },
    }));
    const start = performance.now();
    const response = await fetch(`${prefix}/push`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: PULLED_TENANT, clientId: 'bench-writer', mutationId: `${mutationPrefix}m${p}`, checkpoint, changes }),
      signal: AbortSignal.timeout(60_000),
    });
    const answer = (await response.json()) as { results?: { status: string }[] };
    latencies.push(performance.now() - start);
    if (!response.ok) throw new Error(`POST /push answered ${response.status}: ${JSON.stringify(answer)}`);
    notApplied += answer.results!.filter((result) => result.status !== (p < creates ? 'created' : 'updated')).length;
  }
  const seconds = latencies.reduce((sum, ms) => sum + ms, 0) / 1000;
  latencies.sort((a, b) => a - b);
  return { latencies, rows: pushes * batch, seconds, notApplied };
}

export { percentile };
