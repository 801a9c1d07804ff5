import 'reflect-metadata';
import { diffMaster, diffReplica, diffSync, EntitySync, installOutbox, installReplica, ReplicaApplier, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { testBackends, type TestBackend } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RepairBadge, RepairBadgeCopy, RepairPrice, RepairPriceCopy, RepairPriceHandled, RepairPriceMismatch } from './repair-entities.js';
import { collect, from, gatedTransport, parse, recorder, rejection, replicaStates, replicate, schemaOf } from './repair-support.js';

// Content drift: a replica row edited in place at its current revision. The diff compares the
// fields the master publishes, mapped as the replica maps them, by the replica's column types.

type Orms = { master: MikroORM; replica: MikroORM };

/** A master of five prices and a replica (`replicaEntities`) that received them all (unless `replicated` is false); both closed after `work`. */
async function withPrices(backend: TestBackend, replicaEntities: Function[], work: (orms: Orms) => Promise<void>, replicated = true): Promise<void> {
  const master = await backend.createOrm({ entities: [RepairPrice, RepairBadge], extensions: [EntitySync] });
  const replica = await backend.createOrm({ entities: replicaEntities, extensions: [EntitySync] });
  try {
    await installOutbox(master.em.fork());
    await installReplica(replica.em.fork());
    const em = master.em.fork();
    for (let i = 1; i <= 5; i++) {
      em.create(RepairPrice, {
        id: i, name: `Price ${i}`, note: `note ${i}`, code: `C${i}`, cost: i * 10, amount: `${i}.5`,
        validFrom: new Date(Date.UTC(2024, 0, i, 10)), attributes: { a: i, b: { c: [1, 2] } },
      });
      em.create(RepairBadge, { id: i, title: `B${i}` });
    }
    await em.flush();
    if (replicated) await replicate(master, new ReplicaApplier(replica.em.fork()));
    await work({ master, replica });
  } finally {
    await master.close();
    await replica.close();
  }
}

/** The whole pipeline's first two steps: the report lines, without header and end line, and the end line. */
async function diff({ master, replica }: Orms, cqrsId: string, onWarning?: (message: string) => void) {
  const listing = await collect(diffMaster(master.em.fork(), { cqrsId, batchSize: 2 }));
  const report = await collect(diffReplica(replica.em.fork(), from(listing), { batchSize: 2, onWarning }));
  return { listing, report, lines: parse(report.slice(1, -1)), end: parse(report).at(-1) };
}

const none = { end: true, missing: 0, stale: 0, extra: 0, changed: 0 };
const changed = (id: number, fields: string[], revision = 1) => ({ kind: 'changed', key: [id], revision, fields });
const sortedFields = (lines: Record<string, unknown>[]) => lines.map((line) => ({ ...line, fields: [...line.fields as string[]].sort() }));

async function sql<T = Record<string, unknown>>(orm: MikroORM, text: string): Promise<T[]> {
  return orm.em.getConnection().execute(text.replaceAll('$schema', schemaOf(orm))) as Promise<T[]>;
}

const priceCopies = (replica: MikroORM) => sql(replica,
  'select id, label, shout, code, cost, amount::text as amount, extract(epoch from valid_from)::int as valid_from, attributes::jsonb as attributes ' +
  'from $schema.repair_price_copy order by id');

/** diffSync through a memory transport to a ReplicaConsumer of the replica, which applies once diffSync returned. */
async function repair(orms: Orms, report: string[]) {
  const gated = gatedTransport();
  const consumer = new ReplicaConsumer(orms.replica.em.fork(), gated, { queue: 'repair-content' });
  await consumer.start();
  gated.hold();
  const result = await diffSync(orms.master.em.fork(), gated, from(report), { batchSize: 2, queue: 'repair-content' });
  await gated.release();
  await consumer.stop();
  assert.equal(await gated.memory.deadLetters(), []);
  return result;
}

for (const backend of testBackends()) {
  const test = suite(`CQRS diff: content drift at an equal revision [${backend.name}]`);

  test('renamed, transformed, dropped and unpublished fields: equal content is no drift, a differing replicated value is found and repaired', async () => {
    await withPrices(backend, [RepairPriceCopy], async (orms) => {
      const { replica } = orms;
      const applied = await priceCopies(replica);
      assert.equal(applied.map((row) => [row.label, row.shout, row.code, row.cost]), [1, 2, 3, 4, 5].map((i) => [`Price ${i}`, `NOTE ${i}`, null, null]),
        'name arrives as label, note transformed as shout, code dropped, cost never published');
      assert.equal((await diff(orms, 'repair-price')).end, none, 'the mapped replica equals the master');

      // what the messages do not carry is no drift: the dropped code, the unpublished cost
      await sql(replica, "update $schema.repair_price_copy set code = 'edited', cost = 999");
      assert.equal((await diff(orms, 'repair-price')).end, none);

      await sql(replica, "update $schema.repair_price_copy set label = 'Edited' where id = 2");
      await sql(replica, "update $schema.repair_price_copy set shout = 'note 3' where id = 3");
      await sql(replica, "update $schema.repair_price_copy set label = 'Edited', shout = 'NOTE 3' where id = 4");
      const before = await replicaStates(replica, 'repair-price');
      const found = await diff(orms, 'repair-price');
      assert.equal(sortedFields(found.lines), [changed(2, ['label']), changed(3, ['shout']), changed(4, ['label', 'shout'])],
        'the renamed and the transformed field are compared with the master\'s mapped value');
      assert.equal(found.end, { ...none, changed: 3 });

      assert.equal(await repair(orms, found.report), { republished: 3, deleted: 0 });
      assert.equal(await priceCopies(replica), applied.map((row) => ({ ...row, code: 'edited', cost: 999 })),
        'the replicated fields are repaired; what the messages do not carry stays as it was');
      assert.equal(await replicaStates(replica, 'repair-price'), before, 'at the same revisions');
      assert.equal((await diff(orms, 'repair-price')).end, none, 'a second diff finds nothing');
    });
  });

  test('values equal as the column type reads them are no drift, whatever their text form; a real difference is', async () => {
    await withPrices(backend, [RepairPriceCopy], async (orms) => {
      const { master, replica } = orms;
      // a timestamp with microseconds, written on the master by SQL, reaches the replica exact
      await sql(master, "update $schema.repair_price set valid_from = '2024-01-05 10:00:00.123456+00' where id = 5");
      await replicate(master, new ReplicaApplier(replica.em.fork()));
      await sql(replica, "update $schema.repair_price_copy set amount = '1.50' where id = 1");
      await sql(replica, "update $schema.repair_price_copy set valid_from = '2024-01-02 12:00:00+02' where id = 2");
      await sql(replica, 'update $schema.repair_price_copy set attributes = \'{ "b": {"c": [1, 2]},  "a": 3 }\' where id = 3');
      const texts = await sql<{ amount: string; attributes: string; valid_from: string }>(replica,
        'select amount::text as amount, attributes::text as attributes, valid_from::text as valid_from from $schema.repair_price_copy where id <= 3 order by id');
      const { listing, end } = await diff(orms, 'repair-price');
      const states = parse(listing.slice(1, -1)).map((line) => line.state as Record<string, unknown>);
      // the text forms differ from what the master sends, so a comparison of text would count them
      assert.is(texts[0]!.amount, '1.50');
      assert.is(states[0]!.amount, '1.500', 'numeric values travel as their exact digits');
      assert.not.equal(texts[1]!.valid_from, states[1]!.validFrom);
      assert.is(Date.parse(states[1]!.validFrom as string), Date.UTC(2024, 0, 2, 10));
      assert.is(texts[2]!.attributes, '{ "b": {"c": [1, 2]},  "a": 3 }');
      assert.equal(end, none, 'numeric scale, timestamp offsets and JSON key order are no drift');
      assert.is(states[4]!.validFrom, '2024-01-05T10:00:00.123456+00:00');

      await sql(replica, "update $schema.repair_price_copy set amount = '1.51' where id = 1");
      await sql(replica, "update $schema.repair_price_copy set valid_from = '2024-01-02 12:00:01+02' where id = 2");
      await sql(replica, 'update $schema.repair_price_copy set attributes = \'{"a": 3, "b": {"c": [2, 1]}}\' where id = 3');
      await sql(replica, "update $schema.repair_price_copy set attributes = 'null'::json where id = 4");
      await sql(replica, "update $schema.repair_price_copy set valid_from = '2024-01-05 10:00:00.123457+00' where id = 5");
      const found = await diff(orms, 'repair-price');
      assert.equal(found.lines, [changed(1, ['amount']), changed(2, ['validFrom']), changed(3, ['attributes']), changed(4, ['attributes']),
        changed(5, ['validFrom'], 2)], 'a microsecond is a difference');
      assert.equal(found.end, { ...none, changed: 5 });
      assert.equal(await repair(orms, found.report), { republished: 5, deleted: 0 });
      assert.equal((await diff(orms, 'repair-price')).end, none);
    });
  });

  test('a replica with onCqrsCreate/onCqrsUpdate handlers: its content is not compared, and the caller is told why', async () => {
    await withPrices(backend, [RepairPriceHandled], async (orms) => {
      await sql(orms.replica, "update $schema.repair_price_handled set label = 'Edited' where id = 1");
      const warnings: string[] = [];
      const found = await diff(orms, 'repair-price', (message) => warnings.push(message));
      assert.equal(found.end, none, 'what the handlers wrote cannot be told from drift');
      assert.is(warnings.length, 1);
      assert.match(warnings[0]!, 'RepairPriceHandled applies messages through its own onCqrsCreate/onCqrsUpdate handlers');
      await sql(orms.replica, "delete from $schema.repair_price_handled where id = 2");
      assert.equal((await diff(orms, 'repair-price', () => undefined)).lines, [{ kind: 'missing', key: [2], revision: 1 }], 'missing rows are still found');
    });
  });

  test('a master value that does not fit the replica column fails typed, naming what to do', async () => {
    await withPrices(backend, [RepairPriceMismatch], async (orms) => {
      await sql(orms.replica, 'insert into $schema.repair_price_mismatch (id, amount) values (1, 1)');
      await sql(orms.replica, "insert into $schema.entity_sync_replica_state values ('repair-price', '[1]', 1, false)");
      const error = await rejection(diff(orms, 'repair-price'));
      assert.is(error.code, 'CQRS_SCHEMA_MISMATCH', error.message);
      assert.match(error.message, "The state the master publishes for 'repair-price' does not fit the columns of RepairPriceMismatch");
      assert.match(error.message, '--no-content');
    }, false);
  });

  test('a master with a serializer: the replica is compared with what the serializer publishes, not with the row', async () => {
    await withPrices(backend, [RepairBadgeCopy], async (orms) => {
      assert.equal((await orms.replica.em.fork().findOneOrFail(RepairBadgeCopy, 1)).title, '#B1');
      assert.equal((await diff(orms, 'repair-badge')).end, none);
      await sql(orms.replica, "update $schema.repair_badge_copy set title = 'B1' where id = 1");
      const found = await diff(orms, 'repair-badge');
      assert.equal(found.lines, [changed(1, ['title'])], 'the raw column value is not what the master publishes');
      const transport = recorder();
      assert.equal(await diffSync(orms.master.em.fork(), transport, from(found.report)), { republished: 1, deleted: 0 });
      assert.equal(transport.sent.map((message) => [message.operation, message.revision, message.state]), [['sync', 1, { id: 1, title: '#B1' }]]);
    });
  });

  test.run();
}
