import { since, type Throughput } from '../graph/measure.js';
import { PpItem } from './entities.js';
import type { Orm } from './orm.js';

/** What the naive pull did: its rate extrapolated to the whole pull, from pages sampled across it. */
export interface NaivePull extends Throughput {
  /** Pages actually read, and the rows on them. */
  sampledPages: number;
  sampledRows: number;
}

/**
 * The pull an app writes by hand: "changed since my last pull" through the ORM, `find` of the
 * tenant's rows with `updatedAt > last`, ordered by (updatedAt, id), paged with `limit` and
 * `offset`, every row hydrated as an entity and serialized to a JSON page (what an endpoint
 * would send; no HTTP, which favours it). With OFFSET each page costs more than the one before,
 * so reading all of a million rows would take the bench too long: `samples` pages at offsets
 * spread evenly over the pull are read, and the whole pull's time is their mean time times the
 * number of pages (`rows` is the tenant's row count, `seconds` that extrapolation).
 */
export async function naivePull(orm: Orm, tenant: string, rows: number, pageSize: number, samples: number): Promise<NaivePull> {
  const pages = Math.ceil(rows / pageSize);
  const since0 = new Date(0);
  let sampledRows = 0;
  let sampledSeconds = 0;
  const picked = [...new Set(Array.from({ length: samples }, (_, i) => Math.floor((i * pages) / samples)))];
  for (const page of picked) {
    const em = orm.em.fork();
    const start = performance.now();
    const items = await em.find(PpItem, { tenant, updatedAt: { $gt: since0 } }, { orderBy: { updatedAt: 'asc', id: 'asc' }, limit: pageSize, offset: page * pageSize });
    const text = JSON.stringify(items.map((item) => ({ ...item })));
    sampledSeconds += since(start);
    sampledRows += items.length;
    if (!text.length) throw new Error('no page');
  }
  return { rows, seconds: (sampledSeconds / picked.length) * pages, sampledPages: picked.length, sampledRows };
}
