import 'reflect-metadata';
import { EntitySync, installOutbox, installReplica, OutboxRelay, ReplicaApplier } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { judgeRevision, Replica, type RevisionVerdict } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Author, libraryEntities } from '../../examples/library/src/index.js';

@Entity({ tableName: 'author_copy' })
@Replica('author', { fields: { email: { to: 'contact', transform: (value) => String(value).toLowerCase() } } })
class AuthorCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
  @Property({ nullable: true }) contact?: string;
}

async function outboxRows(orm: MikroORM): Promise<{ key: number[]; operation: string; revision: string }[]> {
  return orm.em.getConnection().execute(`select key, operation, revision::text from "${orm.config.get('schema') ?? 'public'}".entity_sync_outbox order by id`);
}

async function relayAll(master: MikroORM, transport: MemoryTransport): Promise<void> {
  // one batch, which the transport reverses: later revisions arrive before earlier ones
  await new OutboxRelay(master.em.fork(), transport, { batchSize: 100 }).relayPending();
  await transport.drain();
}

async function snapshot(master: MikroORM, replica: MikroORM) {
  const authors = (await master.em.fork().find(Author, {}, { orderBy: { id: 'asc' } })).map((a) => `${a.id}:${a.name}:${a.email.toLowerCase()}`);
  const copies = (await replica.em.fork().find(AuthorCopy, {}, { orderBy: { id: 'asc' } })).map((c) => `${c.id}:${c.name}:${c.contact}`);
  return { authors, copies };
}

const unit = suite('revision guard');

unit('applies newer revisions, drops duplicates and late ones, lets sync repair an equal one', () => {
  assert.is(judgeRevision(undefined, { revision: 3, operation: 'save' }), 'apply');
  assert.is(judgeRevision({ revision: 3, deleted: false }, { revision: 4, operation: 'save' }), 'apply');
  assert.is(judgeRevision({ revision: 3, deleted: false }, { revision: 6, operation: 'save' }), 'gap');
  assert.is(judgeRevision({ revision: 3, deleted: false }, { revision: 3, operation: 'save' }), 'duplicate');
  assert.is(judgeRevision({ revision: 3, deleted: false }, { revision: 3, operation: 'sync' }), 'apply');
  assert.is(judgeRevision({ revision: 5, deleted: true }, { revision: 4, operation: 'save' }), 'stale');
});

unit.run();

for (const backend of testBackends()) {
  const test = suite(`transactional outbox to replica over the memory transport [${backend.name}]`);

  test('a burst of creates, updates and deletes reaches the replica once in effect, whatever the delivery order', async () => {
    const master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    const replica = await backend.createOrm({ entities: [AuthorCopy], extensions: [EntitySync] });
    try {
      assert.equal(await installOutbox(master.em.fork()), ['author']);
      await installReplica(replica.em.fork());
      const applier = new ReplicaApplier(replica.em.fork());
      const transport = new MemoryTransport({ faults: { duplicate: true, reverse: true } });
      const verdicts: RevisionVerdict[] = [];
      await transport.subscribe('library-replica', applier.cqrsIds, async (message) => void verdicts.push(await applier.apply(message)));

      const em = master.em.fork();
      const authors = Array.from({ length: 12 }, (_, i) => em.create(Author, { name: `Author ${i}`, email: `A${i}@Example.org` }));
      await em.flush();
      // several saves of one row in one transaction: one outbox entry, one revision
      await master.em.fork().transactional(async (tx) => {
        const first = await tx.findOneOrFail(Author, authors[0]!.id);
        first.name = 'First draft';
        await tx.flush();
        first.name = 'First final';
        await tx.flush();
      });
      // a rolled-back transaction and a rolled-back savepoint publish nothing
      await master.em.fork().transactional(async (tx) => {
        (await tx.findOneOrFail(Author, authors[1]!.id)).name = 'never committed';
        await tx.flush();
        throw new Error('roll back');
      }).catch(() => undefined);
      await master.em.fork().transactional(async (tx) => {
        (await tx.findOneOrFail(Author, authors[2]!.id)).name = 'kept';
        await tx.flush();
        await tx.transactional(async (inner) => {
          (await inner.findOneOrFail(Author, authors[3]!.id)).name = 'savepoint rolled back';
          await inner.flush();
          throw new Error('roll back the savepoint');
        }).catch(() => undefined);
      });
      // a bulk write that bypasses the unit of work is captured too
      await master.em.fork().nativeUpdate(Author, { id: { $in: [authors[4]!.id, authors[5]!.id] } }, { name: 'bulk renamed' });
      const del = master.em.fork();
      await del.nativeDelete(Author, { id: authors[6]!.id });

      const rows = await outboxRows(master);
      assert.is(rows.filter((row) => row.key[0] === authors[0]!.id).map((row) => row.revision).join(), '1,2', 'create, then one entry for the two saves');
      assert.not.ok(rows.some((row) => row.key[0] === authors[1]!.id && row.revision === '2'), 'the rolled-back change left nothing');
      assert.not.ok(rows.some((row) => row.key[0] === authors[3]!.id && row.revision === '2'), 'the rolled-back savepoint left nothing');
      assert.ok(rows.some((row) => row.key[0] === authors[6]!.id && row.operation === 'delete'));

      await relayAll(master, transport);
      const { authors: inMaster, copies } = await snapshot(master, replica);
      assert.equal(copies, inMaster);
      assert.ok(verdicts.includes('duplicate'), 'duplicates were delivered and dropped');
      assert.ok(verdicts.includes('stale'), 'late revisions were delivered and dropped');
      assert.equal(await transport.deadLetters(), []);

      // a late save of a deleted row does not bring it back
      const late = { version: 1 as const, id: 'late', cqrsId: 'author', operation: 'save' as const, key: [authors[6]!.id], revision: 1,
        state: { id: authors[6]!.id, name: 'zombie', email: 'z@example.org' }, createdAt: new Date().toISOString() };
      assert.is(await applier.apply(late), 'stale');
      assert.is(await replica.em.fork().count(AuthorCopy, { id: authors[6]!.id }), 0);
      // nothing left to relay, and a second relay run publishes nothing again
      assert.is((await new OutboxRelay(master.em.fork(), transport).relayPending()).relayed, 0);
    } finally {
      await master.close();
      await replica.close();
    }
  });

  test('a message missing a required field is refused whole and dead-lettered, then replayed after the fix', async () => {
    const replica = await backend.createOrm({ entities: [AuthorCopy], extensions: [EntitySync] });
    try {
      await installReplica(replica.em.fork());
      const applier = new ReplicaApplier(replica.em.fork());
      const transport = new MemoryTransport({ maxAttempts: 2 });
      let fixed = false;
      await transport.subscribe('q', ['author'], async (message) => {
        await applier.apply(fixed ? { ...message, state: { ...message.state, name: 'repaired' } } : message);
      });
      const poison = { version: 1 as const, id: 'p1', cqrsId: 'author', operation: 'save' as const, key: [41], revision: 1,
        state: { id: 41, email: 'x@example.org' }, createdAt: new Date().toISOString() };
      await transport.publish([poison]);
      await transport.drain();
      const letters = await transport.deadLetters();
      assert.is(letters.length, 1);
      assert.is(letters[0]!.attempts, 2);
      assert.is((letters[0]!.cause as Error & { code: string }).code, 'CQRS_FIELD_MISSING');
      assert.match(letters[0]!.error, 'Message p1 lacks name, which AuthorCopy requires; nothing was applied.');
      assert.is(await replica.em.fork().count(AuthorCopy), 0);
      fixed = true;
      assert.is(await transport.retryDeadLetters(), 1);
      await transport.drain();
      assert.equal(await transport.deadLetters(), []);
      assert.is((await replica.em.fork().findOneOrFail(AuthorCopy, 41)).name, 'repaired');
    } finally {
      await replica.close();
    }
  });

  test('applyMany applies a batch in one transaction with the same verdicts as one by one, and all or nothing', async () => {
    const replica = await backend.createOrm({ entities: [AuthorCopy], extensions: [EntitySync] });
    try {
      await installReplica(replica.em.fork());
      const applier = new ReplicaApplier(replica.em.fork());
      const at = new Date().toISOString();
      const save = (id: number, revision: number, name: string) => ({ version: 1 as const, id: `${id}/${revision}`, cqrsId: 'author', operation: 'save' as const,
        key: [id], revision, state: { id, name, email: `${name}@Example.org` }, createdAt: at });
      const remove = (id: number, revision: number) => ({ version: 1 as const, id: `${id}/${revision}/d`, cqrsId: 'author', operation: 'delete' as const,
        key: [id], revision, state: null, createdAt: at });
      assert.equal(await applier.applyMany([save(1, 2, 'one-b'), save(1, 1, 'one-a'), save(2, 1, 'two'), save(2, 1, 'two'), save(3, 4, 'three')]),
        ['apply', 'stale', 'apply', 'duplicate', 'apply']);
      assert.equal(await applier.applyMany([save(1, 2, 'one-b'), remove(2, 2), save(2, 1, 'two'), save(3, 7, 'three-b')]),
        ['duplicate', 'apply', 'stale', 'gap']);
      const names = async () => (await replica.em.fork().find(AuthorCopy, {}, { orderBy: { id: 'asc' } })).map((c) => `${c.id}:${c.name}:${c.contact}`);
      assert.equal(await names(), ['1:one-b:one-b@example.org', '3:three-b:three-b@example.org']);
      // a message the replica cannot take fails the whole batch: nothing of it is applied
      const broken = { ...save(4, 1, 'four'), state: { id: 4, email: 'x@example.org' } };
      try {
        await applier.applyMany([save(1, 3, 'one-c'), broken]);
        assert.unreachable('the batch applied');
      } catch (error) {
        assert.is((error as { code?: string }).code, 'CQRS_FIELD_MISSING');
      }
      assert.equal(await names(), ['1:one-b:one-b@example.org', '3:three-b:three-b@example.org']);
      assert.is(await applier.apply(save(1, 3, 'one-c')), 'apply');
      // an expired message is refused unapplied, alone or in a batch
      const expired = { ...save(1, 4, 'one-late'), expiresAt: new Date(Date.now() - 1000).toISOString() };
      for (const attempt of [() => applier.apply(expired), () => applier.applyMany([save(5, 1, 'five'), expired])]) {
        try {
          await attempt();
          assert.unreachable('an expired message applied');
        } catch (error) {
          assert.is((error as { code?: string }).code, 'CQRS_MESSAGE_EXPIRED');
        }
      }
      assert.equal((await names()).slice(0, 1), ['1:one-c:one-c@example.org']);
      assert.is(await replica.em.fork().count(AuthorCopy, { id: 5 }), 0);
    } finally {
      await replica.close();
    }
  });

  test('the relay publishes in commit order, past the tenth entry too', async () => {
    const master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      await installOutbox(master.em.fork());
      const transport = new MemoryTransport();
      const received: string[] = [];
      await transport.subscribe('order', ['author'], async (message) => void received.push(`${message.key[0]}@${message.revision}`));
      const em = master.em.fork();
      const expected: string[] = [];
      const authors = [];
      for (let i = 0; i < 12; i++) {
        authors.push(em.create(Author, { name: `Ordered ${i}`, email: `ordered-${i}@example.org` }));
        await em.flush();
        expected.push(`${authors[i]!.id}@1`);
      }
      for (const author of authors.slice(0, 3).reverse()) {
        author.name += ' again';
        await em.flush();
        expected.push(`${author.id}@2`);
      }
      await new OutboxRelay(master.em.fork(), transport, { batchSize: 100 }).relayPending();
      await transport.drain();
      assert.equal(received, expected);
    } finally {
      await master.close();
    }
  });

  test('a running relay is woken by the commit itself (NOTIFY), not by its poll, and stops cleanly', async () => {
    const master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
    try {
      await installOutbox(master.em.fork());
      const transport = new MemoryTransport();
      const received: number[] = [];
      await transport.subscribe('wake', ['author'], async (message) => void received.push(Date.now()));
      const relay = new OutboxRelay(master.em.fork(), transport, { pollMs: 60_000 });
      await relay.start();
      await new Promise((resolve) => setTimeout(resolve, 300)); // past the first (empty) look at the outbox
      const em = master.em.fork();
      em.create(Author, { name: 'Woken', email: 'woken@example.org' });
      await em.flush();
      const committed = Date.now();
      const deadline = committed + 10_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.is(received.length, 1, 'the relay did not wake on commit');
      assert.ok(received[0]! - committed < 5_000);
      await relay.stop();
      assert.is(relay.relayed, 1);
    } finally {
      await master.close();
    }
  });

  test.run();
}
