// A replica whose tables reference each other (transfers -> accounts, accounts -> a parent
// account) applies a master's transactions without a foreign-key failure and without falling
// back to one message at a time: one by one, in batches cut anywhere, and through the consumer.
import 'reflect-metadata';
import { EntitySync, installOutbox, installReplica, OutboxRelay, ReplicaApplier, ReplicaConsumer } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { Master, Replica, type CqrsMessage, type MessageHandler, type Transport } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'fk_account' })
@Master('fk-account')
class FkAccount {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
  @ManyToOne(() => FkAccount, { nullable: true, deleteRule: 'no action' }) parent?: FkAccount;
}

@Entity({ tableName: 'fk_transfer' })
@Master('fk-transfer')
class FkTransfer {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => FkAccount, { deleteRule: 'no action' }) payer!: FkAccount;
  @ManyToOne(() => FkAccount, { deleteRule: 'no action' }) payee!: FkAccount;
  @Property() amount!: number;
}

@Entity({ tableName: 'fk_account_copy' })
@Replica('fk-account')
class FkAccountCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
  @ManyToOne(() => FkAccountCopy, { nullable: true, deleteRule: 'no action' }) parent?: FkAccountCopy;
}

@Entity({ tableName: 'fk_transfer_copy' })
@Replica('fk-transfer')
class FkTransferCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => FkAccountCopy, { deleteRule: 'no action' }) payer!: FkAccountCopy;
  @ManyToOne(() => FkAccountCopy, { deleteRule: 'no action' }) payee!: FkAccountCopy;
  @Property() amount!: number;
}

const REPLICA = [FkAccountCopy, FkTransferCopy];

// Transactions whose outbox order (a row's entry sits at its first change) is no order to apply them in.
const TRICKY: string[][] = [
  ['insert into fk_account (id, name, parent_id) values (1, \'a1\', null), (2, \'a2\', 1), (3, \'a3\', null), (4, \'a4\', null), (5, \'a5\', 4), (6, \'a6\', null)',
    'insert into fk_transfer (id, payer_id, payee_id, amount) values (1, 1, 2, 10), (2, 3, 1, 20), (3, 2, 3, 30), (4, 4, 6, 40)'],
  // update A, delete the transfers to A, delete A: A's entry (now a delete) comes first
  ['update fk_account set name = \'a3 closing\' where id = 3', 'delete from fk_transfer where 3 in (payer_id, payee_id)', 'delete from fk_account where id = 3'],
  // insert A, insert T -> A, update A: A's entry must stay first
  ['insert into fk_account (id, name) values (7, \'a7\')', 'insert into fk_transfer (id, payer_id, payee_id, amount) values (5, 7, 1, 50)',
    'update fk_account set name = \'a7 opened\' where id = 7'],
  // update T, insert B, point T at B: T's entry comes before B's
  ['update fk_transfer set amount = 11 where id = 1', 'insert into fk_account (id, name) values (8, \'a8\')', 'update fk_transfer set payee_id = 8 where id = 1'],
  // the same within one table: a parent updated, its child deleted, the parent deleted
  ['update fk_account set name = \'a4 closing\' where id = 4', 'delete from fk_transfer where id = 4', 'delete from fk_account where id = 5', 'delete from fk_account where id = 4'],
  // and an account pointed at a parent inserted after its first change
  ['update fk_account set name = \'a6 moving\' where id = 6', 'insert into fk_account (id, name) values (9, \'a9\')', 'update fk_account set parent_id = 9 where id = 6'],
];

// A seeded mix of creates, updates and deletes over many transactions, each valid on the master.
function randomTransactions(count: number, seed: number): string[][] {
  let state = seed;
  const random = (n: number) => ((state = (state * 1103515245 + 12345) % 2 ** 31) % n);
  // what TRICKY leaves: account -> parent, transfer -> [payer, payee]
  const accounts = new Map<number, number | null>([[1, null], [2, 1], [6, 9], [7, null], [8, null], [9, null]]);
  const transfers = new Map<number, [number, number]>([[1, [1, 8]], [5, [7, 1]]]);
  let nextAccount = 100;
  let nextTransfer = 100;
  const pick = <T>(values: T[]) => values[random(values.length)]!;
  const transactions: string[][] = [];
  for (let t = 0; t < count; t++) {
    const statements: string[] = [];
    for (let n = 1 + random(6); n > 0; n--) {
      const ids = [...accounts.keys()];
      const op = random(7);
      if (op === 0 || ids.length < 3) {
        const id = nextAccount++;
        const parent = random(2) ? pick(ids) : null;
        accounts.set(id, parent);
        statements.push(`insert into fk_account (id, name, parent_id) values (${id}, 'r${id}', ${parent})`);
        if (random(2)) statements.push(`update fk_account set name = 'r${id} renamed' where id = ${id}`);
      } else if (op === 1 || op === 2) {
        const id = nextTransfer++;
        const [payer, payee] = [pick(ids), pick(ids)];
        transfers.set(id, [payer, payee]);
        statements.push(`insert into fk_transfer (id, payer_id, payee_id, amount) values (${id}, ${payer}, ${payee}, ${random(1000)})`);
      } else if (op === 3) {
        statements.push(`update fk_account set name = 'u${t}' where id = ${pick(ids)}`);
      } else if (op === 4 && transfers.size) {
        const id = pick([...transfers.keys()]);
        const payee = pick(ids);
        transfers.set(id, [transfers.get(id)![0], payee]);
        statements.push(`update fk_transfer set payee_id = ${payee}, amount = amount + 1 where id = ${id}`);
      } else if (op === 5 && transfers.size) {
        const id = pick([...transfers.keys()]);
        transfers.delete(id);
        statements.push(`delete from fk_transfer where id = ${id}`);
      } else {
        // an account goes, with its transfers; its children move to another parent first
        const id = pick(ids);
        const heir = pick(ids.filter((other) => other !== id && accounts.get(other) !== id));
        statements.push(`update fk_account set name = 'closing ${t}' where id = ${id}`);
        for (const [child, parent] of accounts) {
          if (parent === id) {
            accounts.set(child, heir ?? null);
            statements.push(`update fk_account set parent_id = ${heir ?? null} where id = ${child}`);
          }
        }
        for (const [transfer, [payer, payee]] of transfers) {
          if (payer === id || payee === id) {
            transfers.delete(transfer);
            statements.push(`delete from fk_transfer where id = ${transfer}`);
          }
        }
        accounts.delete(id);
        statements.push(`delete from fk_account where id = ${id}`);
      }
    }
    transactions.push(statements);
  }
  return transactions;
}

const schemaOf = (orm: MikroORM) => `"${orm.config.get('schema') ?? 'public'}"`;

async function commit(master: MikroORM, transactions: string[][]): Promise<void> {
  for (const statements of transactions) {
    await master.em.fork().transactional(async (tx) => {
      await tx.execute(`set local search_path to ${schemaOf(master)}`);
      for (const statement of statements) await tx.execute(statement);
    });
  }
}

async function rows(orm: MikroORM, tables: [string, string]): Promise<string[]> {
  const [accounts, transfers] = tables;
  const connection = orm.em.getConnection();
  const read = async (sql: string) => (await connection.execute<{ t: string }[]>(sql)).map((row) => row.t);
  return [
    ...await read(`select row(id, name, parent_id)::text as t from ${schemaOf(orm)}.${accounts} order by id`),
    ...await read(`select row(id, payer_id, payee_id, amount)::text as t from ${schemaOf(orm)}.${transfers} order by id`),
  ];
}
const masterRows = (orm: MikroORM) => rows(orm, ['fk_account', 'fk_transfer']);
const replicaRows = (orm: MikroORM) => rows(orm, ['fk_account_copy', 'fk_transfer_copy']);

/** Hands every published batch to the consumer at once, as a broker with many deliveries in flight does; keeps no failed message. */
class BurstTransport implements Transport {
  private handler: MessageHandler | undefined;
  async publish(messages: CqrsMessage[]): Promise<void> {
    await Promise.allSettled(messages.map((message) => this.handler!(structuredClone(message))));
  }
  async subscribe(_queue: string, _cqrsIds: string[], handler: MessageHandler) {
    this.handler = handler;
    return { stop: async () => void (this.handler = undefined) };
  }
  async close(): Promise<void> {}
}

for (const backend of testBackends()) {
  const test = suite(`replica tables with foreign keys between them [${backend.name}]`);
  const open = async () => {
    const master = await backend.createOrm({ entities: [FkAccount, FkTransfer], extensions: [EntitySync] });
    await installOutbox(master.em.fork());
    return master;
  };
  const openReplica = async () => {
    const replica = await backend.createOrm({ entities: REPLICA, extensions: [EntitySync] });
    await installReplica(replica.em.fork());
    return replica;
  };
  const published = async (master: MikroORM, batchSize: number): Promise<CqrsMessage[]> => {
    const messages: CqrsMessage[] = [];
    await new OutboxRelay(master.em.fork(), new MemoryTransport(), { batchSize, onPublished: (batch) => void messages.push(...batch) }).relayPending();
    return messages;
  };

  test('the relay publishes each transaction in an order its messages apply in one by one', async () => {
    const master = await open();
    try {
      await commit(master, TRICKY);
      const order = (await published(master, 1000)).map((message) => `${message.operation} ${message.cqrsId} ${message.key[0]}`);
      const before = (a: string, b: string) => assert.ok(order.lastIndexOf(a) < order.lastIndexOf(b), `${a} before ${b}: ${order.join(', ')}`);
      before('delete fk-transfer 2', 'delete fk-account 3');
      before('delete fk-transfer 3', 'delete fk-account 3');
      before('save fk-account 7', 'save fk-transfer 5');
      before('save fk-account 8', 'save fk-transfer 1');
      before('delete fk-account 5', 'delete fk-account 4');
      before('save fk-account 9', 'save fk-account 6');
      // transactions stay in commit order
      before('save fk-transfer 4', 'delete fk-account 3');
      before('delete fk-account 3', 'save fk-account 7');
    } finally {
      await master.close();
    }
  });

  test('outbox -> relay -> memory transport -> consumer, one message at a time: no failure, replica equals master', async () => {
    const master = await open();
    const replica = await openReplica();
    const transport = new MemoryTransport();
    const consumer = new ReplicaConsumer(replica.em.fork(), transport, { queue: 'fk' });
    try {
      await consumer.start();
      await commit(master, [...TRICKY, ...randomTransactions(40, 7)]);
      // small relay batches end inside transactions
      await new OutboxRelay(master.em.fork(), transport, { batchSize: 4 }).relayPending();
      await transport.drain();
      assert.equal((await transport.deadLetters()).map((letter) => `${letter.message?.id}: ${letter.error}`), []);
      const stats = consumer.stats();
      assert.is(stats.failed, 0);
      assert.is(stats.fallbacks, 0);
      assert.equal(await replicaRows(replica), await masterRows(master));
    } finally {
      await consumer.stop();
      await master.close();
      await replica.close();
    }
  });

  test('the same messages in batches cut anywhere apply without a failure', async () => {
    const master = await open();
    try {
      await commit(master, [...TRICKY, ...randomTransactions(40, 11)]);
      const messages = await published(master, 1000);
      const expected = await masterRows(master);
      for (const size of [messages.length, 50, 7, 3, 2]) {
        const replica = await openReplica();
        try {
          const applier = new ReplicaApplier(replica.em.fork());
          for (let at = 0; at < messages.length; at += size) await applier.applyMany(messages.slice(at, at + size));
          assert.equal(await replicaRows(replica), expected, `batches of ${size}`);
        } finally {
          await replica.close();
        }
      }
    } finally {
      await master.close();
    }
  });

  test('through the consumer with many deliveries in flight: batches, no fallback, replica equals master', async () => {
    const master = await open();
    const replica = await openReplica();
    const transport = new BurstTransport();
    const fallbacks: string[] = [];
    const consumer = new ReplicaConsumer(replica.em.fork(), transport, { queue: 'fk', maxBatch: 25, onFallback: (error) => void fallbacks.push(error.message) });
    try {
      await consumer.start();
      await commit(master, [...TRICKY, ...randomTransactions(60, 3)]);
      await new OutboxRelay(master.em.fork(), transport, { batchSize: 100 }).relayPending();
      const stats = consumer.stats();
      assert.equal(fallbacks, []);
      assert.is(stats.fallbacks, 0);
      assert.is(stats.failed, 0);
      assert.ok(stats.applied > 100, `${stats.applied} applied`);
      assert.equal(await replicaRows(replica), await masterRows(master));
    } finally {
      await consumer.stop();
      await master.close();
      await replica.close();
    }
  });

  test.run();
}
