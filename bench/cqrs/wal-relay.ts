// Part 5: the relay with WAL capture next to the relay with trigger capture. Both masters get the
// same committed changes; each relay publishes them to a transport that only counts (the relay's
// own cost, without a broker), and the two message streams must be equal but for their time.
// Then commit -> published at a steady rate, with a started relay of each kind.
import { installOutbox, OutboxRelay } from '@entity-sync/adapters/mikro-orm';
import type { CqrsMessage, Transport } from '@entity-sync/core';
import type { PostgresCluster } from '@entity-sync/testing';
import pg from 'pg';
import type { Throughput } from '../graph/measure.js';
import { percentile } from './latency.js';
import { openMaster, type Orm } from './orm.js';
import { fillOutbox } from './outbox-fill.js';
import { sql } from './table-digest.js';

type Capture = 'trigger' | 'wal';

/** A transport that keeps what it is given, with the time it was given. */
class CountingTransport implements Transport {
  published: { message: CqrsMessage; at: number }[] = [];
  async publish(messages: CqrsMessage[]): Promise<void> {
    const at = performance.now();
    for (const message of messages) this.published.push({ message, at });
  }
  async subscribe() {
    return { stop: async () => {} };
  }
  async close() {}
}

export interface WalRelayComparison {
  relay: Record<Capture, Throughput[]>;
  /** commit -> published, ms, at the steady rate. */
  latency: Record<Capture, number[]>;
  problems: string[];
}

interface Master {
  orm: Orm;
  url: string;
}

async function masters(cluster: PostgresCluster): Promise<Record<Capture, Master>> {
  const open = async (capture: Capture): Promise<Master> => {
    const name = `relay_${capture}`;
    await cluster.createDatabase(name);
    const orm = await openMaster(cluster.url(name));
    await installOutbox(orm.em.fork(), { capture });
    return { orm, url: cluster.url(name) };
  };
  return { trigger: await open('trigger'), wal: await open('wal') };
}

const content = ({ message }: { message: CqrsMessage }) => JSON.stringify({ ...message, createdAt: undefined, expiresAt: undefined });

// Commits one insert every 1000 / rate ms for `seconds`, on its own connection, and records when each commit returned.
async function steadyInserts(url: string, rate: number, seconds: number): Promise<Map<string, number>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // the bench cluster commits asynchronously; a WAL reader sees a commit once it is flushed, so the writer waits for that
  await client.query('SET synchronous_commit = on');
  const committed = new Map<string, number>();
  try {
    const start = performance.now();
    for (let i = 0; i < rate * seconds; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const { rows } = await client.query<{ id: string }>(`INSERT INTO account (email, name, status, balance_cents, active, notes, updated_at) ` +
        `VALUES ('steady${i}@example.org', 'Steady ${i}', 'new', ${i}, true, 'steady', now()) RETURNING id::text AS id`);
      committed.set(`account/[${rows[0]!.id}]/1`, performance.now());
    }
  } finally {
    await client.end();
  }
  return committed;
}

/** Runs part 5: `rounds` of `changes` relayed changes per capture, then `seconds` at `rate` commits per second. */
export async function compareWalRelay(cluster: PostgresCluster, changes: number, rounds: number, rate: number, seconds: number): Promise<WalRelayComparison & { orms: Orm[] }> {
  const targets = await masters(cluster);
  const result: WalRelayComparison & { orms: Orm[] } = { relay: { trigger: [], wal: [] }, latency: { trigger: [], wal: [] }, problems: [], orms: [targets.trigger.orm, targets.wal.orm] };
  for (let round = 0; round < rounds; round++) {
    const streams: Partial<Record<Capture, string[]>> = {};
    for (const capture of (round % 2 === 0 ? ['trigger', 'wal'] : ['wal', 'trigger']) as Capture[]) {
      const { url, orm } = targets[capture];
      await sql(url, 'TRUNCATE account, entity_sync_outbox, entity_sync_revision RESTART IDENTITY');
      await fillOutbox(url, changes);
      const transport = new CountingTransport();
      const started = performance.now();
      const { relayed } = await new OutboxRelay(orm.em.fork(), transport, { batchSize: 1000 }).relayPending();
      result.relay[capture].push({ rows: transport.published.length, seconds: (performance.now() - started) / 1000 });
      if (relayed !== changes) result.problems.push(`round ${round + 1}: the ${capture} relay relayed ${relayed} of ${changes} changes`);
      streams[capture] = transport.published.map(content);
    }
    const [a, b] = [streams.trigger!, streams.wal!];
    const differing = a.findIndex((message, i) => message !== b[i]);
    if (a.length !== b.length || differing >= 0) {
      result.problems.push(`round ${round + 1}: ${a.length} messages with trigger capture, ${b.length} with WAL capture; first difference at ${differing}`);
    }
  }
  for (const capture of ['trigger', 'wal'] as Capture[]) {
    const { url, orm } = targets[capture];
    await sql(url, 'TRUNCATE account, entity_sync_outbox, entity_sync_revision RESTART IDENTITY');
    const transport = new CountingTransport();
    const relay = new OutboxRelay(orm.em.fork(), transport, { onError: (error) => result.problems.push(`${capture} relay: ${String(error)}`) });
    await relay.start();
    // a relay that starts reads the slot from its restart point (WAL of the earlier rounds): measured once it caught up
    await sql(url, `INSERT INTO account (email, name, status, balance_cents, active, notes, updated_at) VALUES ('warm@example.org', 'warm', 'new', 0, true, '', now())`);
    for (const deadline = Date.now() + 30_000; transport.published.length === 0 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10));
    transport.published = [];
    const committed = await steadyInserts(url, rate, seconds);
    for (const deadline = Date.now() + 10_000; transport.published.length < committed.size && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await relay.stop();
    const latencies: number[] = [];
    for (const { message, at } of transport.published) {
      const commit = committed.get(message.id);
      if (commit !== undefined) latencies.push(at - commit);
    }
    if (latencies.length !== committed.size) result.problems.push(`${capture}: ${latencies.length} of ${committed.size} steady commits were published`);
    result.latency[capture] = latencies.sort((x, y) => x - y);
  }
  return result;
}

