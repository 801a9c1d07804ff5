import { EntitySync, installOutbox, OutboxRelay } from '@entity-sync/adapters/mikro-orm';
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import type { PostgresCluster } from '@entity-sync/testing';
import { createSchema, ReflectMetadataProvider } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { applyQueue, type ApplyRun } from './apply-throughput.js';
import { LEDGER_COLUMNS, LedgerAccount, LedgerAccountCopy, LedgerTransfer, LedgerTransferCopy } from './ledger-entities.js';
import { deleteServiceQueues } from './queues.js';
import { sql, tableDigest } from './table-digest.js';

/** Options of `compareForeignKeys`. */
export interface ForeignKeyComparisonOptions {
  cluster: PostgresCluster;
  amqpUrl: string;
  /** Master transactions to commit (about 15 messages each). */
  transactions: number;
  rounds: number;
  prefetch: number;
  concurrency: number;
}

export interface ForeignKeyComparison {
  messages: number;
  transactions: number;
  withKeys: ApplyRun[];
  withoutKeys: ApplyRun[];
  problems: string[];
}

// A seeded, valid history of a ledger, as SQL transactions: each opens accounts, books transfers
// between live accounts (also to the accounts it just opened, which it then updates: a row
// changed twice), moves older transfers to the new accounts, and every third one closes an
// account (update, delete its transfers, delete it): the cases whose outbox order is no order
// to apply in.
function ledgerHistory(transactions: number): string[] {
  let seed = 42;
  const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
  const accounts: number[] = [];
  const transfers = new Map<number, [number, number]>();
  let nextAccount = 1;
  let nextTransfer = 1;
  const pick = <T>(values: T[]) => values[random(values.length)]!;
  const history: string[] = [];
  for (let t = 0; t < transactions; t++) {
    const statements: string[] = ['BEGIN'];
    const opened: number[] = [];
    for (let i = 0; i < 4; i++) {
      const id = nextAccount++;
      opened.push(id);
      statements.push(`INSERT INTO ledger_account (id, name, status, balance_cents, notes, updated_at) VALUES (${id}, 'Account ${id}', 'new', 0, ` +
        `left(repeat(md5('${id}') || ' ', 10), ${100 + (id * 37) % 200}), timestamptz '2025-01-01' + ${id} * interval '1.000001 second')`);
    }
    accounts.push(...opened);
    for (let i = 0; i < 8; i++) {
      const id = nextTransfer++;
      const [payer, payee] = [pick(accounts), pick(i % 2 ? opened : accounts)];
      transfers.set(id, [payer, payee]);
      statements.push(`INSERT INTO ledger_transfer (id, payer_id, payee_id, amount_cents, memo, booked_at) VALUES (${id}, ${payer}, ${payee}, ` +
        `${1 + random(100000)}, 'transfer ${id}', timestamptz '2025-01-01' + ${id} * interval '0.5 second')`);
    }
    statements.push(`UPDATE ledger_account SET status = 'active', balance_cents = balance_cents + 1 WHERE id IN (${opened.slice(0, 2).join(', ')})`);
    for (let i = 0; i < 2 && transfers.size > 20; i++) {
      const id = pick([...transfers.keys()]);
      const payee = pick(opened);
      transfers.set(id, [transfers.get(id)![0], payee]);
      statements.push(`UPDATE ledger_transfer SET payee_id = ${payee}, memo = memo || ' moved' WHERE id = ${id}`);
    }
    if (t % 3 === 2 && accounts.length > 10) {
      const id = accounts.splice(random(accounts.length - 4), 1)[0]!;
      statements.push(`UPDATE ledger_account SET status = 'closing' WHERE id = ${id}`);
      for (const [transfer, [payer, payee]] of transfers) if (payer === id || payee === id) transfers.delete(transfer);
      statements.push(`DELETE FROM ledger_transfer WHERE payer_id = ${id} OR payee_id = ${id}`, `DELETE FROM ledger_account WHERE id = ${id}`);
    }
    statements.push('COMMIT');
    history.push(statements.join(';\n'));
  }
  return history;
}

const open = async (url: string, entities: Function[]) => {
  const orm = await MikroORM.init<PostgreSqlDriver>({ driver: PostgreSqlDriver, clientUrl: url, metadataProvider: ReflectMetadataProvider, entities, extensions: [EntitySync], pool: { min: 1, max: 4 } });
  await createSchema(orm);
  return orm;
};

/**
 * The consumer on a replica whose transfers table references its accounts table, against the
 * same messages on a replica without those foreign keys: a master commits a ledger history, the
 * relay publishes it once to one queue per replica run, and each queue is drained into an empty
 * replica database; runs alternate. After each run the replica must equal the master.
 */
export async function compareForeignKeys(options: ForeignKeyComparisonOptions): Promise<ForeignKeyComparison> {
  const { cluster, rounds } = options;
  const orms: MikroORM[] = [];
  const result: ForeignKeyComparison = { messages: 0, transactions: options.transactions, withKeys: [], withoutKeys: [], problems: [] };
  const queues = Array.from({ length: rounds }, (_, round) => [`bench_fk_${round}`, `bench_nofk_${round}`] as const);
  try {
    await cluster.createDatabase('ledger_master');
    const master = await open(cluster.url('ledger_master'), [LedgerAccount, LedgerTransfer]);
    orms.push(master);
    await installOutbox(master.em.fork());
    await sql(cluster.url('ledger_master'), ...ledgerHistory(options.transactions));
    const transport = new RabbitMqTransport({ url: options.amqpUrl });
    try {
      for (const queue of queues.flat()) await transport.declareQueue(queue, ['ledger-account', 'ledger-transfer']);
      result.messages = (await new OutboxRelay(master.em.fork(), transport, { batchSize: 1000 }).relayPending()).relayed;
    } finally {
      await transport.close();
    }
    const [accounts, transfers] = await Promise.all([
      tableDigest(cluster.url('ledger_master'), 'ledger_account', LEDGER_COLUMNS.account),
      tableDigest(cluster.url('ledger_master'), 'ledger_transfer', LEDGER_COLUMNS.transfer),
    ]);
    for (const [round, pair] of queues.entries()) {
      for (const [i, queue] of pair.entries()) {
        const keys = i === 0;
        const name = `ledger_replica_${round}_${keys ? 'fk' : 'nofk'}`;
        await cluster.createDatabase(name);
        const replica = await open(cluster.url(name), [LedgerAccountCopy, LedgerTransferCopy]);
        orms.push(replica);
        if (!keys) {
          const constraints = await sql<{ name: string }>(cluster.url(name),
            `SELECT conname AS name FROM pg_constraint WHERE contype = 'f' AND conrelid = 'ledger_transfer_copy'::regclass`);
          await sql(cluster.url(name), ...constraints.map((c) => `ALTER TABLE ledger_transfer_copy DROP CONSTRAINT "${c.name}"`));
        }
        const run = await applyQueue(replica, { amqpUrl: options.amqpUrl, queue, expected: result.messages, prefetch: options.prefetch, concurrency: options.concurrency });
        (keys ? result.withKeys : result.withoutKeys).push(run);
        await deleteServiceQueues(options.amqpUrl, queue);
        const [a, t] = await Promise.all([
          tableDigest(cluster.url(name), 'ledger_account_copy', LEDGER_COLUMNS.account),
          tableDigest(cluster.url(name), 'ledger_transfer_copy', LEDGER_COLUMNS.transfer),
        ]);
        if (run.rows !== result.messages) result.problems.push(`${name}: ${run.rows} of ${result.messages} messages applied`);
        if (run.failures) result.problems.push(`${name}: ${run.failures} applies failed, the first with: ${String(run.firstError)}`);
        if (a.hash !== accounts.hash || t.hash !== transfers.hash || a.rows !== accounts.rows || t.rows !== transfers.rows) {
          result.problems.push(`${name}: the replica differs from the master (${a.rows}/${accounts.rows} accounts, ${t.rows}/${transfers.rows} transfers)`);
        }
      }
    }
  } finally {
    await Promise.allSettled(orms.map((orm) => orm.close()));
  }
  return result;
}
