import pg from 'pg';
import type { WriteTargets } from './write-throughput.js';

/** Microseconds per inserted row with and without the capture trigger, for one statement size. */
export interface TriggerCost {
  rowsPerTransaction: number;
  withTrigger: number;
  without: number;
}

const insert = (rows: number) => `INSERT INTO account (email, name, status, balance_cents, active, notes, updated_at) ` +
  `SELECT 'probe' || g || '@example.org', 'Probe ' || g, 'new', g, true, repeat('probe ', 80), now() FROM generate_series(1, ${rows}) g`;

async function perRow(client: pg.Client, rows: number, statements: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < statements; i++) await client.query(insert(rows));
  return ((performance.now() - start) * 1000) / (rows * statements);
}

/**
 * Where the outbox's write cost goes, without the ORM: plain multi-row INSERTs (one statement,
 * one transaction) of growing size into the table with the capture trigger and into the one
 * without, alternating, the fastest of three. The tables are emptied afterwards.
 */
export async function triggerCost(targets: WriteTargets, sizes: number[], rowsPerSize = 4000): Promise<TriggerCost[]> {
  const withTrigger = new pg.Client({ connectionString: targets.outbox.url });
  const without = new pg.Client({ connectionString: targets.plain.url });
  await Promise.all([withTrigger.connect(), without.connect()]);
  try {
    const costs: TriggerCost[] = [];
    for (const rows of sizes) {
      const statements = Math.max(3, Math.round(rowsPerSize / rows));
      const cost = { rowsPerTransaction: rows, withTrigger: Infinity, without: Infinity };
      for (let run = 0; run < 3; run++) {
        cost.withTrigger = Math.min(cost.withTrigger, await perRow(withTrigger, rows, statements));
        cost.without = Math.min(cost.without, await perRow(without, rows, statements));
      }
      costs.push(cost);
    }
    return costs;
  } finally {
    await withTrigger.query('TRUNCATE account, entity_sync_outbox, entity_sync_revision RESTART IDENTITY');
    await without.query('TRUNCATE account RESTART IDENTITY');
    await Promise.all([withTrigger.end(), without.end()]);
  }
}
