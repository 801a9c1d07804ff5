// Two PostgreSQL tables compared in their databases (fromTable on both sides), on two real
// clusters: checksum bisection across them (1M rows with 100 scattered differences found exactly,
// fetching only the differing rows; identical tables in one level), one query within one database;
// both against the brute-force oracle (fast-check) and the sorted merge on random tables with
// duplicate and null keys, unicode, lists and comparators; a schema of odd names, types and a
// partitioned table; strategies asked of sources that cannot are refused.
import { fromTable } from '@entity-sync/adapters/mikro-orm';
import { comparators, diff, isEntitySyncError, type DiffOptions, type DiffResult } from '@entity-sync/core';
import { findPostgresBinDir, PostgresCluster } from '@entity-sync/testing';
import fc from 'fast-check';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { normalized, oracle, sides, sortedOracle, type Row } from '../support/diff-oracle.js';

const sql = async (url: string, text: string, params: unknown[] = []) => {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as Row[];
  } finally {
    await client.end();
  }
};

/** A deterministic sequence of numbers in [0, 1). */
const seeded = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

const BIG = `CREATE TABLE es_big (id int8 PRIMARY KEY, name text NOT NULL, email text, score numeric(10,2), created timestamptz NOT NULL, active boolean, note text);
  INSERT INTO es_big SELECT g, 'name ' || g, 'user' || g || '@example.org', (g % 1000) / 7.0, '2020-01-01'::timestamptz + g * interval '1 minute', g % 3 = 0,
    CASE WHEN g % 5 = 0 THEN 'note ' || g END FROM generate_series(1, 1000000) g; ANALYZE es_big`;

if (process.env.CI === 'true' || findPostgresBinDir()) {
  const test = suite('diff: two PostgreSQL tables compared in their databases [postgres, two clusters]');
  let one: PostgresCluster;
  let two: PostgresCluster;

  test.before(async () => {
    [one, two] = await Promise.all([PostgresCluster.start(), PostgresCluster.start()]);
  });
  test.after(() => {
    one?.stop();
    two?.stop();
  });

  test('1M rows with 100 scattered differences in two clusters: bisection finds exactly them, fetching only their rows', async () => {
    await Promise.all([sql(one.url(), BIG), sql(two.url(), BIG)]);
    const random = seeded(20261203);
    // ten rows whose note goes from NULL to a value or back (a note is set where the id is a multiple of 5)
    const ids = new Set<number>(Array.from({ length: 10 }, (_, i) => 5 * (1 + Math.floor(random() * 199_990)) + (i % 2)));
    while (ids.size < 100) ids.add(1 + Math.floor(random() * 999_990));
    const [nulls, updates, deletes, creates] = [[...ids].slice(0, 10), [...ids].slice(10, 60), [...ids].slice(60, 80), [...ids].slice(80)];
    const expected = new Map<number, { action: string; fields?: string[] }>();
    // the right side (what is) changed: the left says what should be
    for (const [i, id] of updates.entries()) {
      const field = ['name', 'email', 'score', 'created', 'active'][i % 5]!;
      const change = { name: "name || '!'", email: "upper(email)", score: 'score + 0.01', created: "created + interval '1 second'", active: 'NOT coalesce(active, false)' }[field];
      await sql(two.url(), `UPDATE es_big SET ${field} = ${change} WHERE id = $1`, [id]);
      expected.set(id, { action: 'update', fields: [field] });
    }
    // a NULL that became a value, and a value that became NULL
    for (const id of nulls) {
      await sql(two.url(), "UPDATE es_big SET note = CASE WHEN note IS NULL THEN 'now set' END WHERE id = $1", [id]);
      expected.set(id, { action: 'update', fields: ['note'] });
    }
    // rows only the right has: to delete; rows the right lacks: to create
    for (const id of deletes) {
      await sql(one.url(), 'DELETE FROM es_big WHERE id = $1', [id]);
      expected.set(id, { action: 'delete' });
    }
    for (const id of creates) {
      await sql(two.url(), 'DELETE FROM es_big WHERE id = $1', [id]);
      expected.set(id, { action: 'create' });
    }

    const result = await diff(fromTable(one.url(), 'es_big', { key: 'id' }), fromTable(two.url(), 'es_big', { key: 'id' }), { key: 'id' });
    assert.is(result.strategy, 'bisect');
    const found = new Map(result.actions.map((action) => [action.key[0] as number, { action: action.action, ...(action.action === 'update' ? { fields: action.changes.map((change) => change.field) } : {}) }]));
    assert.equal([...found].sort(([a], [b]) => a - b), [...expected].sort(([a], [b]) => a - b));
    assert.equal(result.counts, { create: 20, update: 60, delete: 20, unchanged: 1_000_000 - 20 - 60 - 20, problems: 0 });
    // a changed NULL, both ways, with its values
    const noted = result.actions.filter((action) => action.action === 'update' && action.changes[0]!.field === 'note').map((action) => action.action === 'update' && action.changes[0]);
    assert.is(noted.filter((change) => change && change.old === 'now set' && change.new === null).length, 5, 'a value the right has where the left has NULL');
    assert.is(noted.filter((change) => change && change.old === null && String(change.new).startsWith('note ')).length, 5, 'a NULL on the right where the left has a value');
    // only the differing rows were read: an update's row of each side, a create's and a delete's one
    assert.is(result.stats!.rowsFetched, 2 * 60 + 20 + 20);
    assert.ok(result.stats!.levels! >= 2, `split at least once: ${JSON.stringify(result.stats)}`);
    assert.ok(result.stats!.rowsListed! < 20_000, `few rows listed: ${JSON.stringify(result.stats)}`);
  });

  test('a server stopped in the middle of a bisection: DIFF_SOURCE_FAILED at once, no hang; once it is back, the same differences', async () => {
    const run = () => diff(fromTable(one.url(), 'es_big', { key: 'id' }), fromTable(two.url(), 'es_big', { key: 'id' }), { key: 'id' });
    const pending = run().catch((caught: unknown) => caught);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = performance.now();
    two.pause();
    try {
      const error = await pending;
      assert.ok(isEntitySyncError(error) && error.code === 'DIFF_SOURCE_FAILED', String(error));
      assert.match((error as Error).message, 'es_big');
      assert.match((error as Error).message, 'run the diff again');
      assert.ok(performance.now() - started < 30_000, 'the failure came while the server was down, not after a wait');
    } finally {
      two.resume();
    }
    const again = await run();
    assert.equal([again.strategy, again.counts.create, again.counts.update, again.counts.delete], ['bisect', 20, 60, 20]);
  });

  test('identical tables cost one level of checksums and a handful of queries; the same tables in one database take one query', async () => {
    const table = "CREATE TABLE es_same (code text PRIMARY KEY, qty int NOT NULL); INSERT INTO es_same SELECT 'c' || g, g FROM generate_series(1, 20000) g";
    await Promise.all([sql(one.url(), table), sql(two.url(), table)]);
    const across = await diff(fromTable(one.url(), 'es_same', { key: 'code' }), fromTable(two.url(), 'es_same', { key: 'code' }), { key: 'code' });
    assert.equal([across.strategy, across.actions.length, across.counts.unchanged, across.stats!.levels, across.stats!.rowsFetched], ['bisect', 0, 20000, 1, 0]);
    assert.ok(across.stats!.queries! <= 12, `queries: ${across.stats!.queries}`);
    await sql(one.url(), "CREATE TABLE es_same2 AS SELECT * FROM es_same; UPDATE es_same2 SET qty = -qty WHERE code IN ('c7', 'c19999')");
    const within = await diff(fromTable(one.url(), 'es_same', { key: 'code' }), fromTable(one.url(), 'es_same2', { key: 'code' }), { key: 'code' });
    assert.equal([within.strategy, within.actions.map((action) => action.key[0]).sort(), within.counts.unchanged, within.stats!.rowsFetched], ['sql', ['c19999', 'c7'], 19998, 4]);
  });

  // the record sets of diff-oracle.test.ts as tables: a nullable key with no unique index (duplicates and nulls), unicode texts, a list column
  const TABLE = (name: string) => `CREATE TABLE IF NOT EXISTS ${name} (id int, sheet text, name text, score float8, tags text[], done boolean)`;
  const load = async (url: string, table: string, rows: Row[]) => {
    await sql(url, `${TABLE(table)}; TRUNCATE ${table}`);
    if (rows.length) await sql(url, `INSERT INTO ${table} SELECT * FROM json_populate_recordset(null::${table}, $1)`, [JSON.stringify(rows)]);
    return sql(url, `SELECT * FROM ${table}`);
  };
  // a table has no order: the records of a duplicated key come in any
  const unordered = (found: { actions: unknown[]; problems: unknown[] }) => ({ ...found,
    problems: (found.problems as { records: Row[] }[]).map((problem) => ({ ...problem, records: problem.records.map((row) => JSON.stringify(row)).sort() })) });
  const noNul = (rows: Row[]) => rows.map((row) => ({ ...row, name: String(row.name).replace(/\0/g, '') }));
  const CASES: { name: string; options: DiffOptions; keyOf: (row: Row) => unknown[]; keyFields: string[] }[] = [
    { name: 'one key column, no unique index', options: { key: 'id' }, keyOf: (row) => [row.id], keyFields: ['id'] },
    { name: 'a composite key with unicode texts', options: { key: ['sheet', 'id'] }, keyOf: (row) => [row.sheet, row.id], keyFields: ['sheet', 'id'] },
    { name: 'comparators and a list column', keyOf: (row) => [row.id], keyFields: ['id'],
      options: { key: 'id', lists: ['tags'], compare: { name: comparators.trimmedCaseInsensitive, score: comparators.numeric(0.5) } } },
    { name: 'a chosen set of fields', options: { key: 'id', fields: ['name', 'done'] }, keyOf: (row) => [row.id], keyFields: ['id'] },
  ];
  for (const { name, options, keyOf, keyFields } of CASES) {
    test(`${name}: one query, bisection and the merge give exactly the oracle's actions and problems`, async () => {
      const key = [options.key as string | string[]].flat();
      await fc.assert(fc.asyncProperty(sides, async ([lefts, rights]) => {
        const [l, r, far] = await Promise.all([load(one.url(), 'es_left', noNul(lefts)), load(one.url(), 'es_right', noNul(rights)), load(two.url(), 'es_right', noNul(rights))]);
        assert.equal(far.length, r.length);
        const expected = sortedOracle(oracle(l, r, keyOf, { ...options, keyFields }));
        const left = fromTable(one.url(), 'es_left', { key, bisection: { buckets: 2, listBelow: 2 } });
        const results: [string, DiffResult][] = [
          ['sql', await diff(left, fromTable(one.url(), 'es_right', { key }), options)],
          ['bisect', await diff(left, fromTable(two.url(), 'es_right', { key }), options)],
          ['merge', await diff(left, fromTable(two.url(), 'es_right', { key }), { ...options, strategy: 'merge' })],
        ];
        for (const [strategy, result] of results) {
          assert.is(result.strategy, strategy);
          assert.equal(unordered(normalized(result, options.lists)), unordered(expected), strategy);
          assert.equal(result.counts, results[2]![1].counts, `${strategy} counts as the merge does`);
        }
      }), { numRuns: 25 });
    });
  }

  test('odd names, types and a partitioned table: the strategies agree, and each finds what changed', async () => {
    const schema = `CREATE SCHEMA IF NOT EXISTS "Odd Schema"; CREATE TYPE "Odd Schema".mood AS ENUM ('sad', 'ok', 'happy');
      CREATE TABLE "Odd Schema"."Roster Rows" ("Sheet" text NOT NULL, "No" int NOT NULL, uid uuid, qty numeric, at timestamptz, day date, doc jsonb, raw json,
        mood "Odd Schema".mood, bin bytea, ident int GENERATED ALWAYS AS IDENTITY, twice int GENERATED ALWAYS AS ("No" * 2) STORED, PRIMARY KEY ("Sheet", "No"))`;
    const partitioned = `CREATE SCHEMA IF NOT EXISTS "Odd Schema"; CREATE TYPE "Odd Schema".mood AS ENUM ('happy', 'ok', 'sad');
      CREATE TABLE "Odd Schema"."Roster Rows" ("Sheet" text NOT NULL, "No" int NOT NULL, uid uuid, qty numeric, at timestamptz, day date, doc jsonb, raw json,
        mood "Odd Schema".mood, bin bytea, ident int, twice int, PRIMARY KEY ("Sheet", "No")) PARTITION BY LIST ("Sheet");
      CREATE TABLE "Odd Schema".rr_a PARTITION OF "Odd Schema"."Roster Rows" FOR VALUES IN ('a', 'é');
      CREATE TABLE "Odd Schema".rr_rest PARTITION OF "Odd Schema"."Roster Rows" DEFAULT`;
    const rows = `INSERT INTO "Odd Schema"."Roster Rows" ("Sheet", "No", uid, qty, at, day, doc, raw, mood, bin)
      SELECT s, g, md5(s || g)::uuid, g / 4.0, '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 hour', DATE '2026-01-01' + g, jsonb_build_object('n', g, 'tags', jsonb_build_array(s)),
        json_build_object('n', g), (ARRAY['sad', 'ok', 'happy'])[1 + g % 3]::"Odd Schema".mood, decode(md5(s), 'hex')
      FROM unnest(ARRAY['a', 'é', '😀', 'B']) s, generate_series(1, 50) g`;
    await sql(one.url(), `${schema}; ${rows}`);
    await sql(two.url(), `${partitioned}; ${rows}`);
    // ident is made by each table its own way: compared, it would differ everywhere
    await sql(two.url(), 'UPDATE "Odd Schema"."Roster Rows" SET ident = "No", twice = "No" * 2');
    await sql(one.url(), `CREATE TABLE "Odd Schema"."Roster Copy" (LIKE "Odd Schema"."Roster Rows"); INSERT INTO "Odd Schema"."Roster Copy" SELECT * FROM "Odd Schema"."Roster Rows"`);
    const change = `UPDATE "Odd Schema".%T SET qty = qty::text::numeric(10, 3) WHERE "No" = 1;
      UPDATE "Odd Schema".%T SET at = at + interval '1 second' WHERE "Sheet" = '😀' AND "No" = 2;
      UPDATE "Odd Schema".%T SET doc = doc || '{"x": 1}' WHERE "Sheet" = 'B' AND "No" = 3;
      UPDATE "Odd Schema".%T SET mood = 'happy' WHERE "Sheet" = 'é' AND "No" = 4;
      UPDATE "Odd Schema".%T SET bin = NULL WHERE "Sheet" = 'a' AND "No" = 5;
      DELETE FROM "Odd Schema".%T WHERE "No" = 50`;
    await sql(two.url(), change.replaceAll('%T', '"Roster Rows"'));
    await sql(one.url(), change.replaceAll('%T', '"Roster Copy"'));
    const fields = ['uid', 'qty', 'at', 'day', 'doc', 'raw', 'mood', 'bin', 'twice'];
    const options = { key: ['Sheet', 'No'], fields };
    const left = fromTable(one.url(), 'Roster Rows', { schema: 'Odd Schema', key: ['Sheet', 'No'] });
    const results = [
      await diff(left, fromTable(two.url(), 'Roster Rows', { schema: 'Odd Schema', key: ['Sheet', 'No'] }), options),
      await diff(left, fromTable(one.url(), 'Roster Copy', { schema: 'Odd Schema', key: ['Sheet', 'No'] }), options),
      await diff(left, fromTable(two.url(), 'Roster Rows', { schema: 'Odd Schema', key: ['Sheet', 'No'] }), { ...options, strategy: 'merge' }),
    ];
    assert.equal(results.map((result) => result.strategy), ['bisect', 'sql', 'merge']);
    const summary = (result: DiffResult) => result.actions.map((action) => `${action.action} ${action.key.join('/')}${action.action === 'update' ? ` ${action.changes.map((c) => c.field).join(',')}` : ''}`).sort();
    // qty 0.25 -> 0.250: equal numbers, other texts, so a change (as the merge sees the texts); the "No" 50 rows only the left has
    const expected = [...['a', 'é', '😀', 'B'].map((sheet) => `create ${sheet}/50`), ...['a', 'é', '😀', 'B'].map((sheet) => `update ${sheet}/1 qty`),
      'update 😀/2 at', 'update B/3 doc', 'update a/5 bin', 'update é/4 mood'].sort();
    // (an enum's labels have other oids, and another order, in the other database: it is compared by its label)
    for (const result of results) assert.equal(summary(result), expected, result.strategy);
    assert.equal(results[0]!.stats!.rowsFetched, 4 + 2 * (expected.length - 4));
  });

  test("a strategy asked of sources that cannot is refused; a field the right lacks falls back to reading both", async () => {
    await sql(one.url(), 'CREATE TABLE es_small (id int PRIMARY KEY, v text); INSERT INTO es_small VALUES (1, \'a\'), (2, \'b\'); CREATE TABLE es_other (id int PRIMARY KEY, w text); INSERT INTO es_other VALUES (1, \'a\')');
    await sql(two.url(), 'CREATE TABLE es_small (id int PRIMARY KEY, v text); INSERT INTO es_small VALUES (1, \'a\')');
    const refused = await diff(fromTable(one.url(), 'es_small', { key: 'id' }), fromTable(two.url(), 'es_small', { key: 'id' }), { key: 'id', strategy: 'sql' }).catch((caught: unknown) => caught);
    assert.ok(isEntitySyncError(refused) && refused.code === 'DIFF_STRATEGY_UNAVAILABLE', String(refused));
    assert.match((refused as Error).message, "strategy 'sql'");
    const fallback = await diff(fromTable(one.url(), 'es_small', { key: 'id' }), fromTable(one.url(), 'es_other', { key: 'id' }), { key: 'id' });
    assert.equal([fallback.strategy, fallback.actions.map((action) => action.action)], ['merge', ['update', 'create']]);
    const badBuckets = (() => { try { fromTable(one.url(), 'es_small', { key: 'id', bisection: { buckets: 1000 } }); } catch (error) { return error; } })();
    assert.ok(isEntitySyncError(badBuckets) && badBuckets.code === 'INVALID_OPTION', String(badBuckets));
  });

  test.run();
}
