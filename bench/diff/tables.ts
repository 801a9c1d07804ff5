// The diff of two PostgreSQL tables compared in their databases, on two real clusters started here:
// a table of N rows (bench_rows) and one with 100 differences from it (bench_right: 60 updates,
// 20 rows deleted, 20 added), the latter in both clusters.
//   in one database: diff() (one query, `sql`) against count(*) of both tables, the least a
//   reading of both can cost, and against a full join of both by key that compares nothing, the
//   least a comparison by key in one query can cost;
//   across two: diff() (checksum bisection) against an aggregate md5 of each table computed in
//   both at once (data-diff's checksum of a whole table), and against the merge of both tables
//   fetched whole.
import { fromTable } from '@entity-sync/adapters/mikro-orm';
import { diff, type DiffOptions } from '@entity-sync/core';
import { PostgresCluster } from '@entity-sync/testing';
import pg from 'pg';
import { since } from '../graph/measure.js';

const TABLE = (name: string) => `CREATE TABLE ${name} (id int8 PRIMARY KEY, name text NOT NULL, email text, score numeric(10,2), created timestamptz NOT NULL, active boolean, note text)`;
const FILL = (name: string, rows: number) => `INSERT INTO ${name} SELECT g, 'name ' || g, 'user' || g || '@example.org', (g % 1000) / 7.0,
  '2020-01-01'::timestamptz + g * interval '1 minute', g % 3 = 0, CASE WHEN g % 5 = 0 THEN 'note ' || g END FROM generate_series(1, ${rows}) g`;
// 100 scattered differences, whatever the size: 60 updates, 20 deletes, 20 inserts
const CHANGE = (rows: number) => {
  const step = Math.floor(rows / 101);
  return `UPDATE bench_right SET name = name || '!' WHERE id % ${step} = 7 AND id / ${step} < 60;
    DELETE FROM bench_right WHERE id % ${step} = 7 AND id / ${step} BETWEEN 60 AND 79;
    INSERT INTO bench_right SELECT id + ${rows}, name, email, score, created, active, note FROM bench_right WHERE id % ${step} = 8 AND id / ${step} BETWEEN 80 AND 99`;
};

async function run(url: string, sql: string): Promise<pg.QueryResult[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return [await client.query(sql)].flat();
  } finally {
    await client.end();
  }
}

/** Seconds of the fastest of `runs` runs of `work`. */
async function best(runs: number, work: () => Promise<unknown>, check?: (result: unknown) => void): Promise<number> {
  let fastest = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = await work();
    fastest = Math.min(fastest, since(start));
    check?.(result);
  }
  return fastest;
}

export interface TableFigures {
  rows: number;
  count: number;
  join: number;
  sql: number;
  md5: number;
  bisect: number;
  whole: number;
  found: { sql: number; bisect: number; whole: number };
  stats: Record<string, number>;
}

/** The figures, each the fastest of `runs`; `say` is told each as it is measured. */
export async function measureTables(rows: number, runs: number, say: (line: string) => void): Promise<TableFigures> {
  const [one, two] = await Promise.all([PostgresCluster.start(), PostgresCluster.start()]);
  try {
    const load = `${TABLE('bench_right')}; ${FILL('bench_right', rows)}; ${CHANGE(rows)}`;
    await Promise.all([run(one.url(), `${TABLE('bench_rows')}; ${FILL('bench_rows', rows)}`), run(two.url(), load)]);
    await run(one.url(), load);
    await Promise.all([run(one.url(), 'VACUUM ANALYZE'), run(two.url(), 'VACUUM ANALYZE')]);
    const left = fromTable(one.url(), 'bench_rows', { key: 'id' });
    const options: DiffOptions = { key: 'id' };
    const found = { sql: 0, bisect: 0, whole: 0 };
    let stats: Record<string, number> = {};
    const count = await best(runs, async () => {
      const client = new pg.Client({ connectionString: one.url() });
      await client.connect();
      try {
        await client.query('SELECT count(*) FROM bench_rows');
        await client.query('SELECT count(*) FROM bench_right');
      } finally {
        await client.end();
      }
    });
    say(`  count(*) of both tables in one database: ${count.toFixed(3)} s`);
    // the least any comparison by key costs in one query: both tables joined by it, no column read
    const join = await best(runs, () => run(one.url(), 'SET jit = off; SELECT count(*) FROM bench_rows l FULL JOIN bench_right r ON l.id = r.id'));
    say(`  full join of both tables by key, counted (no column compared): ${join.toFixed(3)} s`);
    const sql = await best(runs, () => diff(left, fromTable(one.url(), 'bench_right', { key: 'id' }), options), (result) => {
      found.sql = (result as Awaited<ReturnType<typeof diff>>).actions.length;
    });
    say(`  diff in one database (one query): ${sql.toFixed(3)} s, ${found.sql} differences`);
    const checksum = (table: string) => `SET jit = off; SELECT sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::int8) FROM ${table} t`;
    const md5 = await best(runs, () => Promise.all([run(one.url(), checksum('bench_rows')), run(two.url(), checksum('bench_right'))]));
    say(`  aggregate md5 of each table, in both databases at once: ${md5.toFixed(3)} s`);
    const bisect = await best(runs, () => diff(left, fromTable(two.url(), 'bench_right', { key: 'id' }), options), (result) => {
      const done = result as Awaited<ReturnType<typeof diff>>;
      found.bisect = done.actions.length;
      stats = done.stats ?? {};
    });
    say(`  diff across two databases (bisection): ${bisect.toFixed(3)} s, ${found.bisect} differences; ${JSON.stringify(stats)}`);
    const whole = await best(Math.min(runs, 2), () => diff(left, fromTable(two.url(), 'bench_right', { key: 'id' }), { ...options, strategy: 'merge' }), (result) => {
      found.whole = (result as Awaited<ReturnType<typeof diff>>).actions.length;
    });
    say(`  diff across two databases, both tables fetched whole (merge): ${whole.toFixed(3)} s, ${found.whole} differences`);
    return { rows, count, join, sql, md5, bisect, whole, found, stats };
  } finally {
    one.stop();
    two.stop();
  }
}
