// A client's first pull reads the served tables themselves (key order, documents written from
// COPY's text), and a later pull reads the row versions (documents built by PostgreSQL): both
// must send every value the same. Values the fast path does not write (NaN, infinite and BC
// timestamps) take the other way for their page. The reading pages through models and composite
// text keys, resumes from its checkpoint, and a token that was tampered with is refused.
import 'reflect-metadata';
import { EntitySync, installPushPull, pullChanges, pullChangesStream, type PulledChanges, type PullWireOptions } from '@entity-sync/adapters/mikro-orm';
import { decodeCheckpoint, isEntitySyncError, SyncModel } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'fp_value' })
@SyncModel()
class FpValue {
  @PrimaryKey() id!: number;
  @Property({ columnType: 'text', nullable: true }) label?: string;
  @Property({ columnType: 'varchar(20)', nullable: true }) code?: string;
  @Property({ columnType: 'char(4)', nullable: true }) short?: string;
  @Property({ columnType: 'bigint', nullable: true }) big?: string;
  @Property({ columnType: 'smallint', nullable: true }) small?: number;
  @Property({ columnType: 'double precision', nullable: true }) ratio?: number;
  @Property({ columnType: 'real', nullable: true }) single?: number;
  @Property({ columnType: 'numeric(14,4)', nullable: true }) price?: string;
  @Property({ columnType: 'boolean', nullable: true }) flag?: boolean;
  @Property({ columnType: 'timestamptz', nullable: true }) at?: Date;
  @Property({ columnType: 'timestamp(3)', nullable: true }) local?: Date;
  @Property({ columnType: 'date', nullable: true }) day?: string;
  @Property({ columnType: 'uuid', nullable: true }) uid?: string;
  @Property({ columnType: 'text[]', nullable: true }) tags?: unknown;
  @Property({ columnType: 'jsonb', nullable: true }) meta?: unknown;
  @Property({ columnType: 'bytea', nullable: true }) blob?: unknown;
  @Property({ fieldName: 'Odd Name', columnType: 'text', nullable: true }) oddName?: string;
}

@Entity({ tableName: 'fp_pair' })
@SyncModel()
class FpPair {
  @PrimaryKey({ columnType: 'text' }) a!: string;
  @PrimaryKey({ columnType: 'int' }) b!: number;
  @Property({ columnType: 'text' }) note!: string;
}

const served = ['FpValue', 'FpPair'];
const VALUE_COLUMNS = 'id, label, code, short, big, small, ratio, single, price, flag, at, local, day, uid, tags, meta, blob, "Odd Name"';
// one row per line; the ones with NaN, infinity or a BC date are values the fast path leaves to PostgreSQL
const VALUE_ROWS = [
  `1, E'tab\\there\\nnew line \\\\ back "quoted" \\u00e9\\u4e2d \\x01 ctrl', 'code', 'ab', 9007199254740993, -32768, 0.1, 1.5, 12.3400, true, ` +
    `'2024-02-29 23:59:59.123456+00', '2024-02-29 12:00:00.5', '2024-02-29', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', ARRAY['x', NULL, 'y "z"'], ` +
    `'{"b": [1, 2.50], "a": "\\u00e9\\n"}', '\\x00ff', 'odd'`,
  "2, '', '', '', 0, 0, -0, 3.4e38, 0, false, '1999-12-31 23:00:00-05', '2000-01-01 00:00:00', '0001-01-01', NULL, '{}', 'null', '', NULL",
  "3, NULL, NULL, NULL, NULL, NULL, 1e-300, 1e-7, -99999.9999, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL",
  "4, 'nan', 'x', 'x', 1, 1, 'NaN', 'Infinity', 'NaN', true, '2024-01-01 00:00:00+00', '2024-01-01 00:00:00', '2024-01-01', NULL, NULL, '[]', NULL, 'z'",
  "5, 'inf', 'y', 'y', 2, 2, '-Infinity', 2, 1, false, '2024-01-01 00:00:00+00', '2024-01-01 00:00:00', '2024-01-01', NULL, NULL, '\"s\"', NULL, 'w'",
  "7, 'infinite', 'x', 'x', 1, 1, 1, 1, 1, true, 'infinity', '2024-01-01 00:00:00', '2024-01-01', NULL, NULL, NULL, NULL, NULL",
  "8, 'infinite', 'x', 'x', 1, 1, 1, 1, 1, true, '2024-01-01 00:00:00+00', '-infinity', 'infinity', NULL, NULL, NULL, NULL, NULL",
  "9, 'bc', 'x', 'x', 1, 1, 1, 1, 1, true, '0044-03-15 12:00:00+00 BC', '2024-01-01 00:00:00', '2024-01-01', NULL, NULL, NULL, NULL, NULL",
  "10, 'bc', 'x', 'x', 1, 1, 1, 1, 1, true, '2024-01-01 00:00:00+00', '0044-03-15 12:00:00 BC', '0044-03-15 BC', NULL, NULL, NULL, NULL, NULL",
  "6, 'plain', 'z', 'z', -9223372036854775808, 7, 123456789.125, -0.5, 0.0001, true, '2038-01-19 03:14:07+00', '1970-01-01 00:00:00.001', '2038-01-19', NULL, ARRAY[]::text[], '1.5e3', '\\x5c', 'v'",
];
// composite keys: text with characters COPY escapes, and keys that sort byte-wise and by number
// and a long one whose checkpoint token runs past 4,000 characters (1,600 quotes, escaped in JSON, in base64)
const PAIR_ROWS = [['a', 1], ['a', 2], ['a', 10], ['a\tb', 1], ['a\\b', 1], ['b\nc', 3], ['é', 1], ['zz', -1], ['', 0], ['"'.repeat(1600), 1]] as const;

/**
 * Two pulls read to the same end, the later one `later`: the same position, but for the horizon of
 * a pull that caught up, which any transaction taking an id in between (autovacuum's analyze)
 * moves on.
 */
function sameEnd(later: string, earlier: string) {
  const [x, y] = [decodeCheckpoint(later)!, decodeCheckpoint(earlier)!];
  assert.equal({ ...x, xid: '' }, { ...y, xid: '' }, `${later} and ${earlier}`);
  assert.ok(x.seq === undefined ? BigInt(x.xid) >= BigInt(y.xid) : x.xid === y.xid, `${later} ends where ${earlier} does`);
}

async function pullAll(orm: MikroORM, checkpoint: string | null, limit: number, models?: string[]) {
  const answers: PulledChanges[] = [];
  for (let more = true; more;) {
    const answer = await pullChanges(orm.em.fork(), { checkpoint, limit, served, ...(models ? { models } : {}) });
    answers.push(answer);
    ({ checkpoint, hasMore: more } = answer);
  }
  return { answers, checkpoint: checkpoint! };
}

/** The answers of a streamed pull, one a line, and whether the stream's last line ended it (hasMore false). */
async function streamAll(orm: MikroORM, options: PullWireOptions) {
  const chunks: Uint8Array[] = [];
  for await (const chunk of await pullChangesStream(orm.em.fork(), { served, ...options })) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  assert.ok(text.endsWith('\n'), 'every line ends with a newline');
  const answers = text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as PulledChanges);
  assert.ok(answers.slice(0, -1).every((answer) => answer.hasMore) && !answers.at(-1)!.hasMore, 'every line but the last has more after it');
  return { answers, checkpoint: answers.at(-1)!.checkpoint };
}

/** The rows of answers whose rows are arrays (`documents: 'arrays'`), as objects by the fields each names. */
const objectsOf = (answers: PulledChanges[]) => answers.map((answer) => ({
  ...answer,
  changes: answer.changes.map(({ fields, ...change }: PulledChanges['changes'][number] & { fields?: string[] }) => {
    assert.ok(fields, `${change.model}: the fields of the arrays are named`);
    return { ...change, upserted: (change.upserted as unknown as unknown[][]).map((values) => Object.fromEntries(fields.map((field, i) => [field, values[i]]))) };
  }),
}));

const docsOf = (answers: PulledChanges[], model: string) =>
  answers.flatMap((answer) => answer.changes.filter((change) => change.model === model).flatMap((change) => change.upserted));
const byId = (docs: Record<string, unknown>[]) => [...docs].sort((x, y) => (x.id as number) - (y.id as number));

for (const backend of testBackends()) {
  const test = suite(`push/pull: a first pull reads the tables [${backend.name}]`);
  let orm: MikroORM;
  const table = (name: string) => `"${orm.config.get('schema') ?? 'public'}".${name}`;

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [FpValue, FpPair], extensions: [EntitySync] });
    const connection = orm.em.getConnection();
    for (const row of VALUE_ROWS) await connection.execute(`insert into ${table('fp_value')} (${VALUE_COLUMNS}) values (${row})`);
    for (const [a, b] of PAIR_ROWS) await connection.execute(`insert into ${table('fp_pair')} (a, b, note) values (?, ?, ?)`, [a, b, `${a}/${b}`]);
    await installPushPull(orm.em.fork(), { models: served });
  });
  test.after.each(() => orm.close());

  test('every value of a first pull is the one a pull of the row versions sends', async () => {
    // one page per row: the rows the fast path leaves to PostgreSQL take the other way alone
    for (const limit of [1, 100]) {
      const first = await pullAll(orm, null, limit, ['FpValue']);
      assert.ok(first.answers.slice(0, -1).every((answer) => /\*/.test(answer.checkpoint)), 'the first pull read the table');
      // touch every row without changing it: the next pull reads the versions
      await orm.em.getConnection().execute(`update ${table('fp_value')} set label = label`);
      const versions = await pullAll(orm, first.checkpoint, 100, ['FpValue']);
      assert.equal(docsOf(versions.answers, 'FpValue').length, VALUE_ROWS.length);
      assert.equal(byId(docsOf(first.answers, 'FpValue')), byId(docsOf(versions.answers, 'FpValue')), `pages of ${limit}`);
    }
    // in pages of one, rows 1 and 2 are written from COPY's text
    const [doc1, doc2] = byId(docsOf((await pullAll(orm, null, 1, ['FpValue'])).answers, 'FpValue'));
    assert.ok(Object.is(doc2!.ratio, 0), 'a float\'s -0 comes as 0, as to_jsonb writes it');
    assert.equal([doc1!.label, doc1!.short, doc1!.big, doc1!.at, doc1!.local, doc1!.tags, doc1!.meta, doc1!.oddName],
      ['tab\there\nnew line \\ back "quoted" é中 \u0001 ctrl', 'ab  ', 9007199254740992, '2024-02-29T23:59:59.123456+00:00', '2024-02-29T12:00:00.5',
        ['x', null, 'y "z"'], { a: 'é\n', b: [1, 2.5] }, 'odd']);
  });

  test('the reading goes through the models and composite text keys in pages, each row once, and resumes from its checkpoint', async () => {
    const { answers, checkpoint } = await pullAll(orm, null, 2);
    const scanned = answers.filter((answer) => /\*/.test(answer.checkpoint));
    assert.ok(scanned.length >= 7, `${scanned.length} pages read the tables`);
    const pairs = docsOf(answers, 'FpPair').map((doc) => `${String(doc.a)}/${String(doc.b)}`);
    assert.equal([...pairs].sort(), PAIR_ROWS.map(([a, b]) => `${a}/${b}`).sort(), 'each pair once');
    assert.equal(docsOf(answers, 'FpPair').map((doc) => doc.note), pairs);
    assert.equal(docsOf(answers, 'FpValue').map((doc) => doc.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // a change after the reading comes with the versions
    await orm.em.getConnection().execute(`update ${table('fp_pair')} set note = 'changed' where a = ? and b = 1`, ['a\tb']);
    const next = await pullAll(orm, checkpoint, 2);
    assert.equal(next.answers.flatMap((answer) => answer.changes.flatMap((change) => change.upserted)), [{ a: 'a\tb', b: 1, note: 'changed' }]);
  });

  test('a change made while the reading is under way comes after it; a delete too', async () => {
    const page = await pullChanges(orm.em.fork(), { checkpoint: null, limit: 3, served, models: ['FpPair'] });
    assert.ok(page.hasMore && /\*/.test(page.checkpoint));
    const connection = orm.em.getConnection();
    // one row already sent changes, one not yet sent is deleted, one is added before the reading's position
    await connection.execute(`update ${table('fp_pair')} set note = 'after' where a = '' and b = 0`);
    await connection.execute(`delete from ${table('fp_pair')} where a = 'zz'`);
    await connection.execute(`insert into ${table('fp_pair')} (a, b, note) values ('', -5, 'late')`);
    const held = new Map<string, unknown>();
    for (const doc of page.changes.flatMap((change) => change.upserted)) held.set(`${String(doc.a)}/${String(doc.b)}`, doc.note);
    const rest = await pullAll(orm, page.checkpoint, 3, ['FpPair']);
    for (const answer of rest.answers) {
      for (const change of answer.changes) {
        for (const doc of change.upserted) held.set(`${String(doc.a)}/${String(doc.b)}`, doc.note);
        for (const id of change.deleted) held.delete((id as unknown[]).join('/'));
      }
    }
    const server = await connection.execute<{ a: string; b: number; note: string }[]>(`select a, b, note from ${table('fp_pair')}`);
    assert.equal(new Map([...held].sort()), new Map(server.map((row) => [`${row.a}/${row.b}`, row.note] as [string, unknown]).sort()));
  });

  test('a reading checkpoint that was tampered with is 400 PULL_CHECKPOINT_INVALID; one of another list of models starts the reading again', async () => {
    const page = await pullChanges(orm.em.fork(), { checkpoint: null, limit: 2, served, models: ['FpPair'] });
    const token = page.checkpoint.split('*')[1]!;
    for (const forged of [
      `${page.checkpoint.split('*')[0]}*${Buffer.from('["x","FpPair",null]').toString('base64url')}x`,
      `${page.checkpoint.split('*')[0]}*${Buffer.from(JSON.stringify([JSON.parse(Buffer.from(token, 'base64url').toString())[0], 'FpPair', ['a']])).toString('base64url')}`,
      `${page.checkpoint.split('*')[0]}*${Buffer.from('{"not":"a list"}').toString('base64url')}`,
    ]) {
      const error = await pullChanges(orm.em.fork(), { checkpoint: forged, served, models: ['FpPair'] }).then(() => undefined, (caught: unknown) => caught);
      assert.ok(isEntitySyncError(error) && error.code === 'PULL_CHECKPOINT_INVALID', `${forged}: ${String(error)}`);
    }
    // the same checkpoint with both models: the reading starts again with the first of them
    const again = await pullChanges(orm.em.fork(), { checkpoint: page.checkpoint, limit: 100, served });
    assert.equal(again.changes.map((change) => [change.model, change.upserted.length]), [['FpValue', VALUE_ROWS.length], ['FpPair', PAIR_ROWS.length]]);
  });

  test('a streamed pull sends, a line an answer, what the pages send, each line resumable; as arrays too', async () => {
    for (const limit of [1, 3, 100]) {
      const paged = await pullAll(orm, null, limit);
      const streamed = await streamAll(orm, { checkpoint: null, limit });
      for (const model of served) assert.equal(docsOf(streamed.answers, model), docsOf(paged.answers, model), `${model}, ${limit} a line`);
      assert.ok(streamed.answers.every((answer) => answer.changes.every((change) => change.upserted.length <= limit)), `at most ${limit} a line`);
      const arrays = await streamAll(orm, { checkpoint: null, limit, documents: 'arrays' });
      for (const model of served) assert.equal(docsOf(objectsOf(arrays.answers), model), docsOf(paged.answers, model), `${model} as arrays, ${limit} a line`);
      // the stream ends where the pages end, and a line's checkpoint goes on after its rows
      sameEnd(streamed.checkpoint, paged.checkpoint);
      const middle = Math.floor(streamed.answers.length / 2);
      const rest = await pullAll(orm, streamed.answers[middle - 1]!.checkpoint, 100);
      const ids = (answers: PulledChanges[]) => answers.flatMap((answer) => answer.changes.flatMap((change) => change.upserted.map((doc) => JSON.stringify(doc))));
      assert.equal(ids(rest.answers), ids(streamed.answers.slice(middle)), `resumed after line ${middle} of ${limit}`);
    }
  });

  test('a streamed pull of later changes goes through the row versions to the end, as arrays too', async () => {
    const { checkpoint } = await pullAll(orm, null, 100);
    const connection = orm.em.getConnection();
    await connection.execute(`update ${table('fp_value')} set code = 'changed'`);
    await connection.execute(`delete from ${table('fp_pair')} where b = 1`);
    const paged = await pullAll(orm, checkpoint, 3);
    const streamed = await streamAll(orm, { checkpoint, limit: 3 });
    assert.ok(streamed.answers.length > 3, `${streamed.answers.length} lines`);
    assert.equal(streamed.answers.map((answer) => answer.changes), paged.answers.map((answer) => answer.changes));
    sameEnd(streamed.checkpoint, paged.checkpoint);
    const arrays = await streamAll(orm, { checkpoint, limit: 3, documents: 'arrays' });
    assert.equal(objectsOf(arrays.answers).map((answer) => answer.changes), paged.answers.map((answer) => answer.changes));
    // caught up: one line, nothing in it
    assert.equal((await streamAll(orm, { checkpoint: streamed.checkpoint })).answers.map((answer) => answer.changes), [[]]);
  });

  test('a streamed first pull of many rows: values left to PostgreSQL in the middle of a COPY, and COPY reads on after them', async () => {
    const connection = orm.em.getConnection();
    // a thousand plain rows, and two that the encoder does not write, far enough apart for COPY to take over again between them
    await connection.execute(`insert into ${table('fp_value')} (id, label, ratio, at) select i, 'row ' || i, ` +
      `case when i in (105, 1010) then 'NaN'::float8 else i / 8.0 end, timestamptz '2024-01-01' + i * interval '1 minute' from generate_series(100, 1100) i`);
    const { checkpoint } = await pullAll(orm, null, 10_000, ['FpValue']);
    // every row touched: the pull from there sends the documents PostgreSQL builds, the ones to compare with
    await connection.execute(`update ${table('fp_value')} set label = label`);
    const versions = await pullAll(orm, checkpoint, 10_000, ['FpValue']);
    for (const documents of ['objects', 'arrays'] as const) {
      const streamed = await streamAll(orm, { checkpoint: null, limit: 10_000, models: ['FpValue'], documents });
      const docs = docsOf(documents === 'arrays' ? objectsOf(streamed.answers) : streamed.answers, 'FpValue');
      assert.is(docs.length, VALUE_ROWS.length + 1001);
      assert.equal(docs.map((doc) => doc.id), [...docs.map((doc) => doc.id as number)].sort((x, y) => x - y), 'in key order');
      assert.equal(byId(docs), byId(docsOf(versions.answers, 'FpValue')), documents);
      // the rows up to the first NaN came by COPY in one line, then PostgreSQL's documents, then COPY again
      assert.ok(streamed.answers.filter((answer) => answer.changes.length).length >= 3, `${streamed.answers.length} lines`);
    }
  });

  test('a streamed pull that is bad is refused before a line is sent; one left early gives its connection back', async () => {
    const error = await pullChangesStream(orm.em.fork(), { checkpoint: 'forged', served }).then(() => undefined, (caught: unknown) => caught);
    assert.ok(isEntitySyncError(error) && error.code === 'PULL_CHECKPOINT_INVALID', String(error));
    const connection = orm.em.getConnection();
    // far more than the stream holds ahead of its reader: the COPY is under way when the reader leaves
    await connection.execute(`insert into ${table('fp_pair')} (a, b, note) select 'many', i, repeat('x', 1000) from generate_series(1, 20000) i`);
    for (let round = 0; round < 3; round++) {
      for await (const chunk of await pullChangesStream(orm.em.fork(), { checkpoint: null, limit: 100, served, models: ['FpPair'] })) {
        assert.ok(chunk.length > 0);
        break;
      }
    }
    // each left its transaction in the middle of a COPY, and ended it: no connection is still busy with one
    if (backend.name === 'postgres') {
      const busy = () => connection.execute<{ query: string }[]>("select query from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state <> 'idle'");
      // a leaked connection stays busy; judge by the last reading, since a later one can catch a transaction that begins after it
      let left = await busy();
      for (let waited = 0; left.length && waited < 5000; waited += 50) left = await new Promise((resolve) => setTimeout(resolve, 50)).then(busy);
      assert.equal(left, [], 'no connection left in a pull');
    }
    const next = await pullChanges(orm.em.fork(), { checkpoint: null, limit: 5, served });
    assert.is(next.changes[0]!.upserted.length, 5);
  });

  test.run();
}
