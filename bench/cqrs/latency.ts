import { installOutbox, OutboxRelay } from '@entity-sync/adapters/mikro-orm';
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import type { PostgresCluster } from '@entity-sync/testing';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { clock, sleep } from './clock.js';
import { cpuBetween, cpuSnapshot, type Classifier } from './cpu-usage.js';
import { openMaster, openReplica } from './orm.js';
import { allApplied, ReplicaWorker } from './replica-worker.js';
import { writeSteadily } from './steady-writer.js';
import { tableDigest } from './table-digest.js';
import { TimedTransport } from './timed-transport.js';

const QUEUE = 'bench_latency';

// The groups whose CPU use part 3 reports: this process (writers and relay), the replica
// processes, the PostgreSQL cluster and the RabbitMQ node (both started by this process).
function processGroups(cluster: PostgresCluster): Classifier {
  const postmaster = Number(readFileSync(join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return (pid, command, ancestors) => {
    if (pid === process.pid) return 'bench process';
    if (pid === postmaster || ancestors.includes(postmaster)) return 'PostgreSQL';
    if (!ancestors.includes(process.pid)) return undefined;
    return command === 'node' ? 'replica process' : 'RabbitMQ';
  };
}

/** Options of `measureLatency`. */
export interface LatencyOptions {
  amqpUrl: string;
  rate: number;
  seconds: number;
  writers: number;
  relayBatchSize: number;
  prefetch: number;
  concurrency: number;
  /** Replica processes consuming the queue side by side. */
  replicas: number;
  /** How the master captures its changes (default trigger); with WAL capture the writers commit synchronously. */
  capture?: 'trigger' | 'wal';
}

/** Commit-to-applied latencies (ms, sorted) and what the run did. */
export interface LatencyRun {
  latencies: number[];
  committed: number;
  applied: number;
  /** Of the latencies: commit to the relay's confirmed publish, and confirmed publish to apply (ms, sorted). */
  toPublished: number[];
  toApplied: number[];
  /** Commits per second the writers achieved. */
  rate: number;
  /** How far behind schedule the writers started a change: at worst, and at the 99th percentile (ms). */
  worstLateMs: number;
  p99LateMs: number;
  /** p99 of the writers' event-loop delay (ms): how late a commit time may have been taken, at most, for most commits. */
  loopDelayP99Ms: number;
  relayBatches: number;
  /** p50 and p99 of the changes committed in each successive window of `windowSeconds`. */
  windows: { p50: number; p99: number }[];
  windowSeconds: number;
  /** Where the CPU went while the writers ran. */
  cpu: string;
  verdicts: Record<string, number>;
  problems: string[];
}

/** The value below which `p` of the sorted `values` fall (nearest rank). */
export const percentile = (values: number[], p: number) => values[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)] ?? NaN;

/**
 * Part 3: writers commit one change per transaction at a steady rate into a master database with
 * the outbox; an `OutboxRelay` (woken by LISTEN) publishes to RabbitMQ; a replica process
 * consumes and applies into its own database. The latency of a change is the time its apply
 * transaction committed on the replica minus the time its master transaction committed, both
 * on the machine's monotonic clock. At the end the replica must equal the master.
 */
export async function measureLatency(cluster: PostgresCluster, options: LatencyOptions): Promise<LatencyRun> {
  await cluster.createDatabase('latency_master');
  await cluster.createDatabase('latency_replica');
  const master = await openMaster(cluster.url('latency_master'), { poolMax: 4 });
  await (await openReplica(cluster.url('latency_replica'), { poolMax: 1 })).close();
  await installOutbox(master.em.fork(), { capture: options.capture });
  const rabbit = new RabbitMqTransport({ url: options.amqpUrl });
  const transport = new TimedTransport(rabbit);
  await rabbit.declareQueue(QUEUE, ['account']);

  const workers: ReplicaWorker[] = [];
  const published = new Map<string, number>();
  const relay = new OutboxRelay(master.em.fork(), transport, {
    batchSize: options.relayBatchSize, pollMs: 1000,
    onPublished: (messages) => {
      const now = clock();
      for (const message of messages) published.set(`${message.key[0]}/${message.revision}`, now);
    },
  });
  try {
    for (let i = 0; i < options.replicas; i++) {
      workers.push(await ReplicaWorker.start(cluster.url('latency_replica'), options.amqpUrl, QUEUE, options.prefetch, options.concurrency));
    }
    await relay.start();
    const classify = processGroups(cluster);
    const before = cpuSnapshot(classify);
    // the writers take a commit's time when their process gets to it: a busy event loop would make
    // commits look later, and latencies shorter, than they were
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const written = await writeSteadily({ url: cluster.url('latency_master'), ...options, synchronousCommit: options.capture === 'wal' });
    loop.disable();
    const cpu = cpuBetween(before, cpuSnapshot(classify), (written.finished - written.started) / 1000);
    const committed = written.commits.size;
    for (const deadline = Date.now() + 30_000; relay.relayed < committed && Date.now() < deadline;) await sleep(20);
    await allApplied(workers, committed);
    const reports = [];
    for (const worker of workers) reports.push(await worker.finish());
    const report = {
      times: reports.flatMap((r) => r.times),
      applied: reports.reduce((sum, r) => sum + r.applied, 0),
      failures: reports.reduce((sum, r) => sum + r.failures, 0),
      verdicts: {} as Record<string, number>,
    };
    for (const r of reports) for (const [verdict, n] of Object.entries(r.verdicts)) report.verdicts[verdict] = (report.verdicts[verdict] ?? 0) + n;

    const latencies: number[] = [];
    const toPublished: number[] = [];
    const toApplied: number[] = [];
    const windowSeconds = Math.max(1, Math.round(options.seconds / 3));
    const byWindow: number[][] = Array.from({ length: Math.ceil(options.seconds / windowSeconds) }, () => []);
    for (const [key, appliedAt] of report.times) {
      const committedAt = written.commits.get(key);
      if (committedAt === undefined) continue;
      latencies.push(appliedAt - committedAt);
      const publishedAt = published.get(key);
      if (publishedAt !== undefined) {
        toPublished.push(publishedAt - committedAt);
        toApplied.push(appliedAt - publishedAt);
      }
      const window = Math.min(byWindow.length - 1, Math.floor((committedAt - written.started) / 1000 / windowSeconds));
      byWindow[Math.max(0, window)]!.push(appliedAt - committedAt);
    }
    const sorted = (values: number[]) => values.sort((a, b) => a - b);
    [latencies, toPublished, toApplied].forEach(sorted);
    const windows = byWindow.map(sorted).map((values) => ({ p50: percentile(values, 0.5), p99: percentile(values, 0.99) }));
    const problems: string[] = [];
    // a load generator that fell behind wrote in bursts: the latencies would be of another rate than the one named
    const rate = committed / ((written.finished - written.started) / 1000);
    if (rate < options.rate * 0.98) problems.push(`the writers committed ${Math.round(rate)} changes/s, not the ${options.rate} of the schedule`);
    if (relay.relayed !== committed) problems.push(`the relay published ${relay.relayed} of ${committed} changes`);
    if (report.failures) problems.push(`${report.failures} applies failed (and were retried)`);
    if (report.applied !== committed || latencies.length !== committed) problems.push(`the replica applied ${report.applied} messages, ${latencies.length} of ${committed} commits matched`);
    const [a, b] = await Promise.all([tableDigest(cluster.url('latency_master'), 'account'), tableDigest(cluster.url('latency_replica'), 'account_copy')]);
    if (a.rows !== b.rows || a.hash !== b.hash) problems.push(`the replica has ${b.rows} rows, the master ${a.rows}; contents ${a.hash === b.hash ? 'equal' : 'differ'}`);
    return {
      latencies, toPublished, toApplied, committed, applied: report.applied, rate,
      worstLateMs: written.worstLateMs, p99LateMs: written.p99LateMs, loopDelayP99Ms: loop.percentile(99) / 1e6,
      relayBatches: transport.batches, windows, windowSeconds, cpu, verdicts: report.verdicts, problems,
    };
  } finally {
    await relay.stop();
    await transport.close();
    // a slot keeps its database from being dropped (the next run creates it again)
    if (options.capture === 'wal') await master.em.getConnection().execute(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = current_database()`);
    await master.close();
    for (const worker of workers) worker.kill();
  }
}
