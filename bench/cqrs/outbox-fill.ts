import { sql } from './table-digest.js';

/** Rows per statement (and transaction) of the fill: small enough that the trigger's per-transaction lookup stays cheap. */
const STEP = 250;

/**
 * Commits `changes` changes of accounts with plain SQL on a database with the outbox, so that the
 * outbox holds one unsent entry per change: 75% inserts, then 20% updates and 5% deletes of
 * those rows. Notes are 300-800 characters, so a message is about 1 KB.
 */
export async function fillOutbox(url: string, changes: number): Promise<{ live: number }> {
  const updates = Math.floor(changes * 0.2);
  const deletes = Math.floor(changes * 0.05);
  const inserts = changes - updates - deletes;
  const statements: string[] = [];
  for (let from = 1; from <= inserts; from += STEP) {
    const to = Math.min(inserts, from + STEP - 1);
    statements.push(`INSERT INTO account (email, name, status, balance_cents, active, notes, updated_at) ` +
      `SELECT 'customer' || g || '@example.org', 'Customer ' || g, (ARRAY['new','active','vip'])[1 + g % 3], g * 37 % 1000000, g % 10 <> 0, ` +
      `left(repeat(md5(g::text) || ' ', 30), 300 + g * 7 % 500), timestamptz '2025-01-01' + g * interval '1 second' FROM generate_series(${from}, ${to}) g`);
  }
  for (let from = 1; from <= updates; from += STEP) {
    statements.push(`UPDATE account SET balance_cents = balance_cents + 1, status = 'active', updated_at = updated_at + interval '1 day' ` +
      `WHERE id BETWEEN ${from} AND ${Math.min(updates, from + STEP - 1)}`);
  }
  for (let from = inserts - deletes + 1; from <= inserts; from += STEP) {
    statements.push(`DELETE FROM account WHERE id BETWEEN ${from} AND ${Math.min(inserts, from + STEP - 1)}`);
  }
  await sql(url, ...statements);
  return { live: inserts - deletes };
}
