// The audit trail: every change of an audited entity's rows, through the push API, the unit of
// work and raw SQL, is recorded in the change's transaction with its actor and only the changed
// columns; a no-op records nothing, excluded columns never appear; a row's state at a past time is
// rebuilt from it; retention removes exactly what it should.
import 'reflect-metadata';
import { auditedRowAt, auditTrail, EntitySync, installAudit, installPushPull, pruneAudit, pullChanges, pushChanges, scheduleRetention, setAuditActor, withAuditActor } from '@entity-sync/adapters/mikro-orm';
import { isEntitySyncError, registerSyncModel, SyncModel, type AuditEntry } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'au_account' })
@SyncModel({ audit: { exclude: ['secret'], retention: { keep: 3 } } })
class AuAccount {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @Property() balance: number = 0;
  @Property({ nullable: true }) secret?: string;
  @Property({ fieldName: 'seen_on', type: 'text', nullable: true }) seenOn?: string;
}

@Entity({ tableName: 'au_line' })
@SyncModel({ audit: true })
class AuLine {
  @PrimaryKey({ type: 'text' }) sheet!: string;
  @PrimaryKey() no!: number;
  @Property() text!: string;
}

@Entity({ tableName: 'au_plain' })
class AuPlain {
  @PrimaryKey() id!: number;
  @Property() note!: string;
}

const codeOf = (error: unknown) => (isEntitySyncError(error) ? error.code : String(error));
const failure = (work: Promise<unknown>) => work.then(() => 'no error', codeOf);

for (const backend of testBackends()) {
  const test = suite(`push/pull: audit trail [${backend.name}]`);
  let orm: MikroORM;
  const fork = () => orm.em.fork();
  const table = (name: string) => `"${orm.config.get('schema') ?? 'public'}".${name}`;
  const sql = (text: string, params: unknown[] = []) => orm.em.getConnection().execute(text, params);
  /** Every entry, oldest first. */
  const everything = async (options: Parameters<typeof auditTrail>[1] = {}) => (await auditTrail(fork(), { ...options, limit: 10_000, order: 'oldest' })).entries;
  /**
   * A time after every change so far and before every later one, by the database's clock (entries
   * are stamped by it): its microseconds rounded up to the millisecond a Date holds, then a wait
   * past that millisecond.
   */
  const now = async () => {
    const [{ t }] = await sql(`select to_json(date_trunc('milliseconds', clock_timestamp()) + interval '1 millisecond') #>> '{}' as t`);
    await new Promise((resolve) => setTimeout(resolve, 3));
    return new Date(t);
  };

  test.before.each(async () => {
    orm = await backend.createOrm({ entities: [AuAccount, AuLine, AuPlain], extensions: [EntitySync] });
    await sql(`insert into ${table('au_account')} (id, name, balance, secret) values (1, 'before the trail', 10, 's3cret-old')`);
    await installPushPull(fork());
    assert.equal(await installAudit(fork()), ['AuAccount', 'AuLine']);
  });
  test.after.each(() => orm.close());

  test('a push through the sync API is recorded with its user and client, only the changed columns', async () => {
    const { checkpoint } = await pullChanges(fork(), {});
    const pushed = await pushChanges(fork(), {
      clientId: 'phone-7', mutationId: 'm1', record: { user: 'alice' }, checkpoint,
      changes: [{ model: 'AuAccount', id: 1, doc: { name: 'renamed' } }, { model: 'AuAccount', id: 2, doc: { name: 'new one', balance: 5, seenOn: 'mon' } }],
    });
    assert.equal(pushed.results.map((result) => result.status), ['updated', 'created']);
    // a push writes its creates before its updates
    const entries = await everything();
    assert.equal(entries.map(({ key, operation, actor, client, changes }) => ({ key, operation, actor, client, changes })), [
      { key: 2, operation: 'create', actor: 'alice', client: 'phone-7', changes: { id: { new: 2 }, name: { new: 'new one' }, balance: { new: 5 }, seenOn: { new: 'mon' } } },
      { key: 1, operation: 'update', actor: 'alice', client: 'phone-7', changes: { name: { old: 'before the trail', new: 'renamed' } } },
    ]);
    assert.ok(entries.every((entry) => entry.model === 'AuAccount' && !Number.isNaN(Date.parse(entry.at))));
  });

  test('em.flush() is recorded with the actor of its transaction (none without one); nativeUpdate and raw SQL too', async () => {
    await withAuditActor(fork(), 'bob', async (tx) => {
      const account = await tx.findOneOrFail(AuAccount, 1);
      account.balance = 25;
      tx.create(AuLine, { sheet: 'q1', no: 1, text: 'first line' });
    });
    const plain = fork();
    (await plain.findOneOrFail(AuAccount, 1)).name = 'by nobody';
    await plain.flush();
    await fork().transactional(async (tx) => {
      await setAuditActor(tx, 'batch-job');
      await tx.nativeUpdate(AuLine, { sheet: 'q1', no: 1 }, { text: 'native' });
      await tx.getConnection().execute(`update ${table('au_account')} set balance = balance + 1 where id = 1`, [], 'run', tx.getTransactionContext());
    });
    await sql(`delete from ${table('au_line')} where sheet = 'q1'`);
    const entries = await everything();
    assert.equal(entries.map(({ model, key, operation, actor, changes }) => ({ model, key, operation, actor, changes })), [
      // the unit of work inserts before it updates
      { model: 'AuLine', key: ['q1', 1], operation: 'create', actor: 'bob', changes: { sheet: { new: 'q1' }, no: { new: 1 }, text: { new: 'first line' } } },
      { model: 'AuAccount', key: 1, operation: 'update', actor: 'bob', changes: { balance: { old: 10, new: 25 } } },
      { model: 'AuAccount', key: 1, operation: 'update', actor: null, changes: { name: { old: 'before the trail', new: 'by nobody' } } },
      { model: 'AuLine', key: ['q1', 1], operation: 'update', actor: 'batch-job', changes: { text: { old: 'first line', new: 'native' } } },
      { model: 'AuAccount', key: 1, operation: 'update', actor: 'batch-job', changes: { balance: { old: 25, new: 26 } } },
      { model: 'AuLine', key: ['q1', 1], operation: 'delete', actor: null, changes: { sheet: { old: 'q1' }, no: { old: 1 }, text: { old: 'native' } } },
    ]);
    assert.equal(await failure(setAuditActor(fork(), 'outside')), 'AUDIT_TRANSACTION_REQUIRED');
    assert.equal(await failure(withAuditActor(fork(), '', async () => 0)), 'INVALID_OPTION');
  });

  test('a no-op update, a change of an excluded column alone, a rolled-back change and an unaudited table record nothing; excluded values never appear', async () => {
    await sql(`update ${table('au_account')} set name = name, balance = balance`);
    const em = fork();
    const account = await em.findOneOrFail(AuAccount, 1);
    account.name = 'before the trail';
    await em.flush();
    await sql(`update ${table('au_account')} set secret = 's3cret-new' where id = 1`);
    await sql(`insert into ${table('au_plain')} (id, note) values (1, 'not audited')`);
    const rolledBack = await fork().transactional(async (tx) => {
      await tx.nativeUpdate(AuAccount, { id: 1 }, { name: 'never' });
      throw new Error('roll back');
    }).catch((error: Error) => error.message);
    assert.is(rolledBack, 'roll back');
    assert.equal(await everything(), [], 'nothing recorded');
    await sql(`update ${table('au_account')} set secret = 'changed-with-name', name = 'seen' where id = 1`);
    await sql(`delete from ${table('au_account')} where id = 1`);
    const entries = await everything();
    assert.equal(entries.map((entry) => entry.operation), ['update', 'delete']);
    assert.equal(entries[0]!.changes, { name: { old: 'before the trail', new: 'seen' } });
    assert.not.match(JSON.stringify(entries), /secret|s3cret|changed-with-name/);
  });

  test('one statement over many rows records each changed row; a new key is a delete where the row was and a create where it is', async () => {
    await sql(`insert into ${table('au_account')} (id, name, balance) select i, 'n' || i, i from generate_series(10, 59) i`);
    await sql(`update ${table('au_account')} set balance = balance * 2 where id between 10 and 59`);
    await sql(`update ${table('au_account')} set id = 1000 where id = 10`);
    const entries = await everything();
    assert.equal(entries.filter((entry) => entry.operation === 'create').length, 50 + 1);
    const updates = entries.filter((entry) => entry.operation === 'update');
    assert.equal(updates.map((entry) => entry.key).sort((a, b) => Number(a) - Number(b)), Array.from({ length: 50 }, (_, i) => i + 10), 'every row of the statement');
    assert.ok(updates.every((entry) => JSON.stringify(Object.keys(entry.changes)) === '["balance"]' && entry.changes.balance!.new === 2 * Number(entry.key)));
    assert.equal(entries.slice(-2).map(({ key, operation, changes }) => ({ key, operation, changes })).sort((a, b) => a.operation.localeCompare(b.operation)), [
      { key: 1000, operation: 'create', changes: { id: { new: 1000 }, name: { new: 'n10' }, balance: { new: 20 }, seenOn: { new: null } } },
      { key: 10, operation: 'delete', changes: { id: { old: 10 }, name: { old: 'n10' }, balance: { old: 20 }, seenOn: { old: null } } },
    ]);
    assert.equal(await auditedRowAt(fork(), 'AuAccount', 10, new Date(Date.now() + 60_000)), null);
  });

  test('columns of types without equality (json, point) are compared by their text; columns the ORM does not map are named by the database', async () => {
    await sql(`alter table ${table('au_account')} add column spot point, add column doc json`);
    await installAudit(fork());
    for (let i = 0; i < 2; i++) await sql(`update ${table('au_account')} set spot = point(1, 2), doc = '{"a": [1]}' where id = 1`);
    const entries = await everything();
    assert.equal(entries.map((entry) => entry.changes), [{ spot: { old: null, new: '(1,2)' }, doc: { old: null, new: { a: [1] } } }], 'the second, same update records nothing');
  });

  test('a row is rebuilt as it was at any time, also from before the trail began; null before it existed and after its delete', async () => {
    const t0 = await now();
    await sql(`update ${table('au_account')} set name = 'second', secret = 'x' where id = 1`);
    await sql(`insert into ${table('au_account')} (id, name, balance) values (3, 'three', 1)`);
    const t1 = await now();
    await withAuditActor(fork(), 'carol', async (tx) => {
      const three = await tx.findOneOrFail(AuAccount, 3);
      Object.assign(three, { balance: 2, seenOn: 'tue' });
    });
    const t2 = await now();
    await sql(`update ${table('au_account')} set name = 'third' where id = 3`);
    await sql(`delete from ${table('au_account')} where id = 3`);
    const t3 = await now();
    const at = (id: number, time: Date) => auditedRowAt(fork(), 'AuAccount', id, time);
    assert.equal(await at(1, t0), { id: 1, name: 'before the trail', balance: 10, seenOn: null }, 'before any entry: the state then, from the row now');
    assert.equal(await at(1, t3), { id: 1, name: 'second', balance: 10, seenOn: null });
    assert.is(await at(3, t0), null, 'not created yet');
    assert.equal(await at(3, t1), { id: 3, name: 'three', balance: 1, seenOn: null });
    assert.equal(await at(3, t2), { id: 3, name: 'three', balance: 2, seenOn: 'tue' });
    assert.is(await at(3, t3), null, 'deleted');
    assert.equal(await auditedRowAt(fork(), 'AuAccount', '3', t1), { id: 3, name: 'three', balance: 1, seenOn: null }, 'a key of numbers given as text');
    assert.equal(await failure(auditedRowAt(fork(), 'AuPlain', 1, t1)), 'AUDIT_MODEL_NOT_AUDITED');
    assert.equal(await failure(auditedRowAt(fork(), 'AuLine', 'q1', t1)), 'INVALID_OPTION', 'a composite key needs all its values');
  });

  test('the trail filters by model, row, actor, operation and time, and pages with a cursor in both orders', async () => {
    const actors = ['ann', 'ben', 'cy'];
    const start = await now();
    for (let i = 0; i < 12; i++) {
      await withAuditActor(fork(), actors[i % 3]!, async (tx) => {
        if (i % 4 === 0) tx.create(AuLine, { sheet: 's', no: i, text: `line ${i}` });
        else await tx.nativeUpdate(AuAccount, { id: 1 }, { balance: 100 + i });
      });
    }
    const middle = await now();
    await sql(`delete from ${table('au_line')} where no = 4`);
    const all = await everything();
    assert.is(all.length, 13);
    const ids = (entries: AuditEntry[]) => entries.map((entry) => entry.id);
    const expect = (keep: (entry: AuditEntry) => boolean) => ids(all.filter(keep));
    assert.equal(ids(await everything({ model: 'AuLine' })), expect((entry) => entry.model === 'AuLine'));
    assert.equal(ids(await everything({ model: 'AuLine', key: ['s', 4] })), expect((entry) => entry.model === 'AuLine' && JSON.stringify(entry.key) === '["s",4]'));
    assert.equal(ids(await everything({ actor: 'ben' })), expect((entry) => entry.actor === 'ben'));
    assert.equal(ids(await everything({ operation: ['create', 'delete'] })), expect((entry) => entry.operation !== 'update'));
    assert.equal(ids(await everything({ since: start, until: middle })), expect((entry) => entry.operation !== 'delete'));
    assert.equal(ids(await everything({ since: middle })), expect((entry) => entry.operation === 'delete'));
    for (const order of ['newest', 'oldest'] as const) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await auditTrail(fork(), { limit: 5, order, cursor });
        seen.push(...ids(page.entries));
        cursor = page.cursor;
        pages++;
      } while (cursor);
      assert.equal(seen, order === 'oldest' ? ids(all) : ids(all).reverse(), order);
      assert.is(pages, 3);
    }
    assert.equal(await failure(auditTrail(fork(), { cursor: 'not-a-cursor' })), 'AUDIT_CURSOR_INVALID');
    assert.equal(await failure(auditTrail(fork(), { model: 'AuPlain' })), 'AUDIT_MODEL_NOT_AUDITED');
    assert.equal(await failure(auditTrail(fork(), { key: 1 })), 'INVALID_OPTION', 'a key needs its model');
    assert.equal(await failure(auditTrail(fork(), { limit: 0 })), 'INVALID_OPTION');
  });

  test('retention removes exactly the entries past each model\'s count, or older than asked; a schedule applies it', async () => {
    for (let i = 1; i <= 6; i++) await sql(`update ${table('au_account')} set balance = ? where id = 1`, [i]);
    for (let i = 1; i <= 4; i++) await sql(`insert into ${table('au_line')} (sheet, no, text) values ('r', ?, 'x')`, [i]);
    const before = await everything();
    const cutoff = await now();
    await sql(`update ${table('au_line')} set text = 'late' where no = 1`);
    assert.equal(await pruneAudit(fork(), { model: 'AuLine', olderThan: cutoff }), { AuLine: 4 });
    assert.equal((await everything({ model: 'AuLine' })).map((entry) => entry.operation), ['update'], 'only the entry after the cutoff stays');
    assert.equal(await pruneAudit(fork()), { AuAccount: 3, AuLine: 0 }, "AuAccount keeps its newest 3, AuLine has no retention");
    const accounts = before.filter((entry) => entry.model === 'AuAccount');
    assert.equal((await everything({ model: 'AuAccount' })).map((entry) => entry.id), accounts.slice(-3).map((entry) => entry.id));
    assert.equal(await pruneAudit(fork(), { keep: 1 }), { AuAccount: 2, AuLine: 0 });
    assert.equal(await failure(pruneAudit(fork(), { olderThan: -1 })), 'INVALID_OPTION');
    for (let i = 7; i <= 9; i++) await sql(`update ${table('au_account')} set balance = ? where id = 1`, [i]);
    const pruned = new Promise<{ audit: Record<string, number>; syncLog: number }>((resolve) => {
      const schedule = scheduleRetention(orm, { everyMs: 1000, syncLog: { keep: 0 }, onPruned: (removed) => void schedule.stop().then(() => resolve(removed)) });
    });
    assert.equal(await pruned, { audit: { AuAccount: 1, AuLine: 0 }, syncLog: 0 });
    assert.is((await everything({ model: 'AuAccount' })).length, 3);
  });

  test('install follows the decorators and the models option; an entity no longer audited stops being recorded, its entries stay', async () => {
    await sql(`insert into ${table('au_plain')} (id, note) values (1, 'one')`);
    assert.equal(await installAudit(fork(), { models: { AuPlain: { exclude: ['note'] } } }), ['AuAccount', 'AuLine', 'AuPlain']);
    await sql(`update ${table('au_plain')} set note = 'two'`);
    await sql(`insert into ${table('au_plain')} (id, note) values (2, 'hidden')`);
    assert.equal((await everything({ model: 'AuPlain' })).map((entry) => [entry.operation, entry.changes]), [['create', { id: { new: 2 } }]]);
    assert.equal(await installAudit(fork(), { models: ['AuPlain'] }), ['AuAccount', 'AuLine', 'AuPlain'], 'idempotent');
    await sql(`insert into ${table('au_plain')} (id, note) values (3, 'seen now')`);
    assert.equal((await everything({ model: 'AuPlain' })).at(-1)!.changes, { id: { new: 3 }, note: { new: 'seen now' } }, 'the options of the last install hold');
    assert.equal(await installAudit(fork()), ['AuAccount', 'AuLine']);
    await sql(`insert into ${table('au_plain')} (id, note) values (4, 'after')`);
    assert.is((await sql(`select count(*)::int as n from ${table('entity_sync_audit')} where model = 'AuPlain'`))[0].n, 2, 'no new entry; the old ones stay');
    assert.equal(await failure(installAudit(fork(), { models: ['Nope'] })), 'INVALID_OPTION');
    assert.equal(await failure(installAudit(fork(), { models: { AuPlain: { exclude: ['nope'] } } })), 'INVALID_OPTION');
  });

  test.run();
}

const registry = suite('push/pull: audit options');
registry('a malformed audit option is refused when registered, naming it', () => {
  class Bad {}
  for (const audit of ['yes', { exclude: 'secret' }, { retention: { days: -1 } }, { retention: { keep: 1.5 } }, { retain: 3 }]) {
    let code = 'no error';
    try {
      registerSyncModel(Bad, { audit: audit as never });
    } catch (error) {
      code = codeOf(error);
      assert.match((error as Error).message, 'audit');
    }
    assert.is(code, 'REGISTRY_INVALID_OPTION', JSON.stringify(audit));
  }
});
registry.run();
