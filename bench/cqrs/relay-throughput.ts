import { OutboxRelay } from '@entity-sync/adapters/mikro-orm';
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import type { CqrsMessage } from '@entity-sync/core';
import type { Throughput } from '../graph/measure.js';
import type { Orm } from './orm.js';
import { RawPublisher, type RawMessage } from './raw-publisher.js';
import { sql } from './table-digest.js';
import { TimedTransport } from './timed-transport.js';

/** The durable queue the relay publishes to in part 2; it keeps the last run's messages for the apply measurement. */
export const RELAY_QUEUE = 'bench_relay';

export interface RelayRun extends Throughput {
  batchSize: number;
  /** Of `seconds`, the time spent in the transport's publish (send and confirms). */
  publishSeconds: number;
  batches: number;
}

export interface RawRun extends Throughput {
  window: number;
}

export interface RelayComparison {
  relay: RelayRun[];
  raw: RawRun[];
  /** Mean size of a message body. */
  messageBytes: number;
  /** Messages the warm-up run published right after one that was committed later (0 when in commit order). */
  outOfOrder: number;
  /** Rows of which a later revision was published before an earlier one. */
  rowsReordered: number;
  problems: string[];
}

/** Options of `compareRelay`. */
export interface RelayComparisonOptions {
  /** The master database, its outbox filled with `changes` unsent entries. */
  orm: Orm;
  url: string;
  amqpUrl: string;
  changes: number;
  batchSizes: number[];
  windows: number[];
  rounds: number;
}

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 50))) {
    if (await check()) return true;
  }
  return check();
}

// Compares the order messages were published in with the order of their outbox entries (the
// commit order): a relay must publish in that order, or replicas see a row's later revision
// first and drop the earlier one as stale.
async function publishedOrder(url: string, messages: RawMessage[]): Promise<{ outOfOrder: number; rowsReordered: number }> {
  const entries = await sql<{ id: string }>(url,
    `SELECT cqrs_id || '/' || key::text || '/' || revision AS id FROM entity_sync_outbox ORDER BY entity_sync_outbox.id`);
  const normalized = (id: string) => id.replace(/\s/g, '');
  const position = new Map(entries.map((entry, i) => [normalized(entry.id), i]));
  let outOfOrder = 0;
  const lastRevision = new Map<string, number>();
  const reordered = new Set<string>();
  messages.forEach(({ messageId }, i) => {
    // a message published right after one committed later than it
    if (i > 0 && (position.get(normalized(messageId)) ?? -1) < (position.get(normalized(messages[i - 1]!.messageId)) ?? -1)) outOfOrder += 1;
    const [row, revision] = [messageId.slice(0, messageId.lastIndexOf('/')), Number(messageId.slice(messageId.lastIndexOf('/') + 1))];
    if ((lastRevision.get(row) ?? 0) > revision) reordered.add(row);
    lastRevision.set(row, Math.max(lastRevision.get(row) ?? 0, revision));
  });
  return { outOfOrder, rowsReordered: reordered.size };
}

/**
 * Times `OutboxRelay.relayPending` publishing the whole outbox through the RabbitMQ transport, for each batch
 * size, against raw amqplib publishing the very same bodies for each window size; rounds
 * alternate relay and raw runs. Before each run the filled outbox is put back and the queue
 * is purged; after it, the outbox must be empty and the queue must hold every message.
 */
export async function compareRelay(options: RelayComparisonOptions): Promise<RelayComparison> {
  const { orm, url, amqpUrl, changes } = options;
  const rabbit = new RabbitMqTransport({ url: amqpUrl });
  const transport = new TimedTransport(rabbit);
  const result: RelayComparison = { relay: [], raw: [], messageBytes: 0, outOfOrder: 0, rowsReordered: 0, problems: [] };
  let raw: RawPublisher | undefined;
  try {
    await rabbit.declareQueue(RELAY_QUEUE, ['account']);
    raw = await RawPublisher.open(amqpUrl, ['account']);
    const rawPublisher = raw;

    // the relay deletes what it publishes: keep the filled outbox aside and put it back before every run
    await sql(url, 'DROP TABLE IF EXISTS bench_outbox_copy', 'CREATE TABLE bench_outbox_copy AS SELECT * FROM entity_sync_outbox');
    const relay = async (batchSize: number, onPublished?: (messages: CqrsMessage[]) => void): Promise<RelayRun> => {
      await sql(url, 'TRUNCATE entity_sync_outbox', 'INSERT INTO entity_sync_outbox SELECT * FROM bench_outbox_copy', 'VACUUM ANALYZE entity_sync_outbox');
      await rawPublisher.purge(RELAY_QUEUE);
      transport.reset();
      const start = performance.now();
      const handled = (await new OutboxRelay(orm.em.fork(), transport, { batchSize, onPublished }).relayPending()).relayed;
      const run = { batchSize, rows: handled, seconds: (performance.now() - start) / 1000, publishSeconds: transport.publishSeconds, batches: transport.batches };
      const [{ n }] = (await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM entity_sync_outbox WHERE sent_at IS NULL')) as [{ n: string }];
      if (handled !== changes || Number(n) !== 0) result.problems.push(`relay batch ${batchSize}: handled ${handled} of ${changes}, ${n} left in the outbox`);
      if (!(await waitFor(async () => (await rawPublisher.queued(RELAY_QUEUE)) === changes))) {
        result.problems.push(`relay batch ${batchSize}: the queue holds ${await rawPublisher.queued(RELAY_QUEUE)} messages, expected ${changes}`);
      }
      return run;
    };
    const publishRaw = async (messages: RawMessage[], window: number): Promise<RawRun> => {
      await rawPublisher.purge();
      const seconds = await rawPublisher.publish(messages, window);
      if (!(await waitFor(async () => (await rawPublisher.queued()) === changes))) {
        result.problems.push(`raw window ${window}: the queue holds ${await rawPublisher.queued()} messages, expected ${changes}`);
      }
      return { window, rows: messages.length, seconds };
    };

    // The warm-up relay run also records the messages, which the raw baseline then sends as is.
    const messages: RawMessage[] = [];
    await relay(500, (batch) => {
      for (const message of batch) messages.push({ routingKey: message.cqrsId, body: Buffer.from(JSON.stringify(message)), messageId: message.id });
    });
    result.messageBytes = messages.reduce((sum, m) => sum + m.body.length, 0) / messages.length;
    Object.assign(result, await publishedOrder(url, messages));
    await publishRaw(messages, options.windows[0]!);
    for (let round = 0; round < options.rounds; round++) {
      for (const window of options.windows) result.raw.push(await publishRaw(messages, window));
      // the relay goes last, so that the queue keeps a whole relay run for the apply measurement
      for (const batchSize of options.batchSizes) result.relay.push(await relay(batchSize));
    }
    await rawPublisher.purge();
  } finally {
    await raw?.close();
    await transport.close();
  }
  return result;
}
