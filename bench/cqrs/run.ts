// CQRS benchmark, on a real PostgreSQL cluster and a real RabbitMQ node started for the run:
// 1. master writes through MikroORM with the outbox's capture trigger, with WAL capture, and with neither;
// 2. the outbox relay vs raw amqplib publishing the same messages with confirms;
// 3. the consumer on a replica with foreign keys between its tables vs the same messages on one without;
// 4. commit-to-applied latency at a steady write rate, relay and replica running;
// 5. the relay with WAL capture vs with trigger capture, and its commit-to-published latency.
// Every figure is checked (rows, queue depths, replica equals master) and compared with a
// limit measured in the same run. BENCH_RUNS sets the rounds of parts 1 and 2 (default 3 and
// 2), BENCH_CHANGES the outbox size of part 2 (20,000), BENCH_RATE and BENCH_SECONDS part 3
// (1,000 changes/s for 15 s), BENCH_LOW_RATE its reference run (250 changes/s for 12 s),
// BENCH_REPLICAS its replica processes (1), BENCH_LEDGER_TRANSACTIONS the master transactions of part 3 (1,500),
// BENCH_WAL_CHANGES and BENCH_WAL_RATE part 5 (20,000 changes; 1,000 commits/s).
import { installOutbox } from '@entity-sync/adapters/mikro-orm';
import { PostgresCluster, RabbitMqBroker } from '@entity-sync/testing';
import { fastest, int, perSecond, runsNote, type Throughput } from '../graph/measure.js';
import { percent, printSummary, type Verdict } from '../graph/report.js';
import { applyQueue } from './apply-throughput.js';
import { compareForeignKeys } from './ledger-apply.js';
import { measureLatency, percentile } from './latency.js';
import { load, machineFacts } from './machine-facts.js';
import { openMaster, openReplica, type Orm } from './orm.js';
import { fillOutbox } from './outbox-fill.js';
import { deleteServiceQueues } from './queues.js';
import { compareRelay, RELAY_QUEUE } from './relay-throughput.js';
import { tableDigest } from './table-digest.js';
import { triggerCost } from './trigger-cost.js';
import { compareWrites, writeTargets, type WriteComparison } from './write-throughput.js';
import { writePlan, type WritePlan } from './write-plan.js';
import { compareWalRelay } from './wal-relay.js';

const writeRounds = Number(process.env.BENCH_RUNS ?? 3);
const relayRounds = Number(process.env.BENCH_RUNS ?? 2);
const changes = Number(process.env.BENCH_CHANGES ?? 20_000);
const rate = Number(process.env.BENCH_RATE ?? 1000);
const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const replicas = Number(process.env.BENCH_REPLICAS ?? 1);
const lowRate = Number(process.env.BENCH_LOW_RATE ?? 250);
const lowSeconds = 12;
const ledgerTransactions = Number(process.env.BENCH_LEDGER_TRANSACTIONS ?? 1500);
const ledgerRounds = 2;
const RELAY_BATCH_SIZES = [200, 1000, 5000];
const RAW_WINDOWS = [200, 1000, 5000];
const APPLY = { prefetch: 400, concurrency: 200 };
const P99_TARGET_MS = 50;
const FOREIGN_KEY_TARGET = 0.5;
const walChanges = Number(process.env.BENCH_WAL_CHANGES ?? 20_000);
const walRounds = 2;
const walRate = Number(process.env.BENCH_WAL_RATE ?? 1000);
const walSeconds = 10;
// the WAL relay does the trigger's work too (JSON rows, revisions) besides decoding the slot
const WAL_RELAY_TARGET = 0.5;
const RELAY_TARGET = 0.9;
const STEADY_WRITERS = 8;

const say = (line = '') => console.log(line);
const label = (text: string) => `  ${text.padEnd(30)}`;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const rateOf = (t: Throughput, unit = 'changes/s') => `${int(perSecond(t))} ${unit}`;
/** `20,000 messages in 1.25 s = 16,005 messages/s` */
const describe = (t: Throughput, unit: string) => `${int(t.rows)} ${unit} in ${t.seconds.toFixed(2)} s = ${int(perSecond(t))} ${unit}/s`;
const started = performance.now();
const failed = (what: string, problems: string[]) => {
  for (const problem of problems) say(`  CHECK FAILED (${what}): ${problem}`);
  return problems.length > 0;
};

const [cluster, broker] = await Promise.all([PostgresCluster.start(), RabbitMqBroker.start()]);
const orms: Orm[] = [];
const database = async (name: string, open: typeof openMaster) => {
  await cluster.createDatabase(name);
  const orm = await open(cluster.url(name));
  orms.push(orm);
  return orm;
};

try {
  say(`cqrs bench: ${await machineFacts(cluster.url(), broker.url)}`);
  say(`  PostgreSQL from @entity-sync/testing (fsync off, synchronous_commit off), RabbitMQ node from @entity-sync/testing; ${load()}`);

  say();
  say('MASTER WRITES through MikroORM (one fork and one flush per transaction; updates and deletes by reference),');
  say(`into a database with the outbox's capture trigger, one with WAL capture (a logical replication slot) and one with neither;`);
  say(`runs rotate, fastest of ${writeRounds}`);
  const targets = await writeTargets(cluster);
  orms.push(targets.outbox.orm, targets.wal.orm, targets.plain.orm);
  failed('warm-up writes', (await compareWrites(targets, writePlan({ flushes: 200, perFlush: [1, 10], seed: 7 }), 1)).problems);
  const writes: [string, WritePlan, WriteComparison][] = [];
  for (const [name, plan] of [
    ['1-10 changes per flush', writePlan({ flushes: 1500, perFlush: [1, 10], seed: 1 })],
    ['bulk, 100-500 per flush', writePlan({ flushes: 40, perFlush: [100, 500], seed: 2 })],
  ] as const) {
    const result = await compareWrites(targets, plan, writeRounds);
    writes.push([name, plan, result]);
    const [withOutbox, withWal, without] = [fastest(result.withOutbox), fastest(result.withWal), fastest(result.without)];
    say(`  ${name}: ${int(plan.flushes.length)} flushes, ${int(plan.changes)} changes (${int(plan.creates)} creates, ${int(plan.updates)} updates, ${int(plan.deletes)} deletes)`);
    say(`${label('  with the outbox')}${describe(withOutbox, 'changes')}, ${runsNote(result.withOutbox)}`);
    say(`${label('  with WAL capture')}${describe(withWal, 'changes')}, ${runsNote(result.withWal)}`);
    say(`${label('  without either')}${describe(without, 'changes')}, ${runsNote(result.without)}`);
    say(`${label('')}the trigger adds ${((withOutbox.seconds - without.seconds) * 1e6 / plan.changes).toFixed(0)} µs per change, ` +
      `WAL capture ${((withWal.seconds - without.seconds) * 1e6 / plan.changes).toFixed(0)} µs`);
    failed(name, result.problems);
  }
  say('  after every round the three tables held the same rows, the outbox one entry per change and the WAL slot one change per change');
  const costs = await triggerCost(targets, [1, 10, 100, 500, 2000]);
  say('  where it goes: plain INSERT ... SELECT, one statement per transaction; µs per row with / without the trigger, by rows per statement:');
  say(`    ${costs.map((c) => `${int(c.rowsPerTransaction)}: ${c.withTrigger.toFixed(0)} / ${c.without.toFixed(0)}`).join(';  ')}`);

  say();
  say(`RELAY: OutboxRelay.relayPending publishing ${int(changes)} committed changes through RabbitMqTransport to one durable queue,`);
  say(`vs raw amqplib (confirm channel, persistent, topic exchange to a durable queue) publishing the same bodies; ${relayRounds} rounds`);
  const relayDb = await database('relay_master', openMaster);
  await installOutbox(relayDb.em.fork());
  const { live } = await fillOutbox(cluster.url('relay_master'), changes);
  const relay = await compareRelay({
    orm: relayDb, url: cluster.url('relay_master'), amqpUrl: broker.url, changes, batchSizes: RELAY_BATCH_SIZES, windows: RAW_WINDOWS, rounds: relayRounds,
  });
  say(`  messages of ${int(relay.messageBytes)} bytes on average (75% inserts, 20% updates with the previous state, 5% deletes)`);
  for (const batchSize of RELAY_BATCH_SIZES) {
    const runs = relay.relay.filter((run) => run.batchSize === batchSize);
    const best = fastest(runs);
    say(`${label(`relayPending, batchSize ${int(batchSize)}`)}${describe(best, 'messages')}, ${runsNote(runs)}`);
    say(`${label('')}${best.batches} batches; publish and confirm ${best.publishSeconds.toFixed(2)} s, ` +
      `reading and deleting the outbox entries ${(best.seconds - best.publishSeconds).toFixed(2)} s (${((best.seconds - best.publishSeconds) * 1000 / best.batches).toFixed(1)} ms per batch)`);
  }
  for (const window of RAW_WINDOWS) {
    const runs = relay.raw.filter((run) => run.window === window);
    say(`${label(`raw amqplib, ${int(window)} in flight`)}${describe(fastest(runs), 'messages')}, ${runsNote(runs)}`);
  }
  if (!failed('relay', relay.problems)) say('  every run left the outbox empty and the queue holding every message');
  if (relay.outOfOrder) {
    say(`  CHECK FAILED (relay order): ${int(relay.outOfOrder)} times a message was published right after one committed later than it, and ` +
      `${int(relay.rowsReordered)} rows had a later revision published before an earlier one (a replica drops the earlier one as stale)`);
  } else {
    say('  the relay published in commit (outbox) order');
  }

  say();
  say(`CONSUMER alone: ReplicaConsumer on RabbitMqTransport (prefetch ${APPLY.prefetch}, ${APPLY.concurrency} deliveries in flight; what waits is applied together),`);
  say(`draining the ${int(changes)} messages of the last relay run into an empty replica database`);
  const applyReplica = await database('apply_replica', openReplica);
  const applied = await applyQueue(applyReplica, { amqpUrl: broker.url, queue: RELAY_QUEUE, expected: changes, ...APPLY });
  await deleteServiceQueues(broker.url, RELAY_QUEUE);
  say(`${label('apply')}${describe(applied, 'messages')}; verdicts ${JSON.stringify(applied.verdicts)}`);
  const [masterRows, replicaRows] = await Promise.all([tableDigest(cluster.url('relay_master'), 'account'), tableDigest(cluster.url('apply_replica'), 'account_copy')]);
  const applyProblems: string[] = [];
  if (applied.rows !== changes) applyProblems.push(`${int(applied.rows)} of ${int(changes)} messages applied`);
  if (applied.failures) applyProblems.push(`${applied.failures} applies failed, the first with: ${String(applied.firstError)}`);
  if (masterRows.rows !== live || replicaRows.rows !== masterRows.rows || replicaRows.hash !== masterRows.hash) {
    applyProblems.push(`the replica has ${int(replicaRows.rows)} rows, the master ${int(masterRows.rows)}; contents ${replicaRows.hash === masterRows.hash ? 'equal' : 'differ'}`);
  }
  if (!failed('apply', applyProblems)) say(`  the replica equals the master (${int(live)} rows)`);

  say();
  say(`CONSUMER on replica tables with foreign keys: a master commits ${int(ledgerTransactions)} transactions over accounts and transfers`);
  say('(transfers reference accounts; transactions open accounts, book transfers to them, update them, move transfers, close accounts);');
  say(`the relay publishes them once; each run drains them into an empty replica with those foreign keys, or without them; ${ledgerRounds} rounds`);
  const ledger = await compareForeignKeys({ cluster, amqpUrl: broker.url, transactions: ledgerTransactions, rounds: ledgerRounds, ...APPLY });
  for (const [name, runs] of [['with foreign keys', ledger.withKeys], ['without foreign keys', ledger.withoutKeys]] as const) {
    const best = fastest(runs);
    say(`${label(name)}${describe(best, 'messages')}, ${runsNote(runs)}; batches applied one by one: ${runs.map((run) => int(run.fallbacks)).join(', ')}`);
  }
  if (!failed('foreign keys', ledger.problems)) say(`  every replica equals the master (${int(ledger.messages)} messages)`);

  say();
  say(`STEADY WRITES, one change per transaction: ${STEADY_WRITERS} writers (plain SQL, one autocommitted statement each, so that the load`);
  say('generator keeps its schedule on the machine it shares) -> OutboxRelay (LISTEN wake-ups, batchSize 500) -> RabbitMQ');
  say(`-> ${replicas} replica process(es) (ReplicaConsumer, prefetch ${APPLY.prefetch}, ${APPLY.concurrency} in flight); latency = replica apply`);
  say('committed - master commit, both on the machine\'s monotonic clock. The replica runs in a child process because the');
  say('consumer alone needs about a core at 1,000 messages/s (see above), which the writers\' process cannot also give.');
  const steadyRun = async (runRate: number, runSeconds: number, note: string, capture: 'trigger' | 'wal' = 'trigger') => {
    say(`  at ${int(runRate)} changes/s for ${runSeconds} s${note}`);
    const run = await measureLatency(cluster, { amqpUrl: broker.url, rate: runRate, seconds: runSeconds, writers: STEADY_WRITERS, relayBatchSize: 500, replicas, ...APPLY, capture });
    const lat = run.latencies;
    say(`${label('  committed')}${int(run.committed)} changes at ${int(run.rate)} changes/s (starts behind schedule: p99 ${ms(run.p99LateMs)}, worst ${ms(run.worstLateMs)}; ` +
      `event-loop delay p99 ${ms(run.loopDelayP99Ms)})`);
    say(`${label('  relayed and applied')}${int(run.relayBatches)} relay batches; ${int(run.applied)} applied, verdicts ${JSON.stringify(run.verdicts)}`);
    say(`${label('  commit -> applied')}p50 ${ms(percentile(lat, 0.5))}, p95 ${ms(percentile(lat, 0.95))}, p99 ${ms(percentile(lat, 0.99))}, max ${ms(lat[lat.length - 1] ?? NaN)}`);
    say(`${label('    commit -> published')}p50 ${ms(percentile(run.toPublished, 0.5))}, p99 ${ms(percentile(run.toPublished, 0.99))} (relay: wake-up, read, publish, confirm)`);
    say(`${label('    published -> applied')}p50 ${ms(percentile(run.toApplied, 0.5))}, p99 ${ms(percentile(run.toApplied, 0.99))} (queue wait, delivery, apply)`);
    say(`${label(`  by ${run.windowSeconds}-s window of commit`)}${run.windows.map((w, i) => `${i * run.windowSeconds}-${(i + 1) * run.windowSeconds} s: p50 ${ms(w.p50)}, p99 ${ms(w.p99)}`).join(';  ')}`);
    say(`${label('  CPU while writing')}${run.cpu}`);
    if (!failed(`steady writes at ${runRate}/s`, run.problems)) say(`${label('')}the replica equals the master; every commit was applied once`);
    return run;
  };
  const steady = await steadyRun(rate, seconds, '');
  const gentle = await steadyRun(lowRate, lowSeconds, ' (a rate this machine keeps up with: for reference, no target)');
  const walSteady = await steadyRun(rate, seconds, ' with WAL capture (the relay streams the slot; the writers commit synchronously, as WAL needs flushed commits)', 'wal');
  const lat = steady.latencies;

  say();
  say(`WAL CAPTURE RELAY: ${int(walChanges)} committed changes relayed with WAL capture and with trigger capture, to a transport that`);
  say(`only counts (the relay's own work); ${walRounds} rounds, runs alternate; then commit -> published at ${int(walRate)}/s for ${walSeconds} s, a started relay`);
  say('of each kind (woken by NOTIFY with triggers, the slot\'s stream with WAL), the writer committing synchronously');
  const wal = await compareWalRelay(cluster, walChanges, walRounds, walRate, walSeconds);
  orms.push(...wal.orms);
  for (const capture of ['trigger', 'wal'] as const) {
    const best = fastest(wal.relay[capture]);
    const lat = wal.latency[capture];
    say(`${label(`  ${capture === 'wal' ? 'WAL' : 'trigger'} capture`)}${describe(best, 'messages')}, ${runsNote(wal.relay[capture])}; ` +
      `commit -> published p50 ${ms(percentile(lat, 0.5))}, p99 ${ms(percentile(lat, 0.99))}`);
  }
  if (!failed('WAL capture relay', wal.problems)) say(`${label('')}both relays published the same messages (but their time) in the same order`);

  const verdicts: Verdict[] = writes.flatMap(([name, , result]) => {
    const without = fastest(result.without);
    return ([['outbox trigger', result.withOutbox], ['WAL capture', result.withWal]] as const).map(([capture, runs]) => {
      const ratio = perSecond(fastest(runs)) / perSecond(without);
      return { figure: `writes with ${capture}, ${name}`, measured: rateOf(fastest(runs)), baseline: rateOf(without), ratio: percent(ratio), target: '>= 90%',
        met: ratio >= 0.9 && result.problems.length === 0 };
    });
  });
  const bestRelay = fastest(relay.relay);
  const bestRaw = fastest(relay.raw);
  const relayRatio = perSecond(bestRelay) / perSecond(bestRaw);
  verdicts.push({
    figure: `relay (batch ${int(bestRelay.batchSize)}) vs raw amqplib (${int(bestRaw.window)} in flight)`, measured: rateOf(bestRelay, 'msg/s'), baseline: rateOf(bestRaw, 'msg/s'),
    ratio: percent(relayRatio), target: `>= ${percent(RELAY_TARGET)}`, met: relayRatio >= RELAY_TARGET && relay.problems.length === 0,
  });
  verdicts.push({
    figure: 'CHECK: relay publishes in commit order', measured: `${int(relay.rowsReordered)} rows reordered`, baseline: '', ratio: '', target: '0 rows', met: relay.rowsReordered === 0 && relay.outOfOrder === 0,
  });
  const [withKeys, withoutKeys] = [fastest(ledger.withKeys), fastest(ledger.withoutKeys)];
  const keysRatio = perSecond(withKeys) / perSecond(withoutKeys);
  verdicts.push({
    figure: 'consumer, replica with foreign keys vs without', measured: rateOf(withKeys, 'msg/s'), baseline: rateOf(withoutKeys, 'msg/s'),
    ratio: percent(keysRatio), target: `>= ${percent(FOREIGN_KEY_TARGET)}`, met: keysRatio >= FOREIGN_KEY_TARGET && ledger.problems.length === 0,
  });
  const p99 = percentile(lat, 0.99);
  verdicts.push({
    figure: `commit -> applied p99 at ${int(rate)}/s`, measured: ms(p99), baseline: '', ratio: '', target: `< ${P99_TARGET_MS} ms`, met: p99 < P99_TARGET_MS && steady.problems.length === 0,
  });
  const walSteadyP99 = percentile(walSteady.latencies, 0.99);
  verdicts.push({
    figure: `commit -> applied p99 at ${int(rate)}/s, WAL capture`, measured: ms(walSteadyP99), baseline: '', ratio: '', target: `< ${P99_TARGET_MS} ms`,
    met: walSteadyP99 < P99_TARGET_MS && walSteady.problems.length === 0,
  });
  const [walBest, triggerBest] = [fastest(wal.relay.wal), fastest(wal.relay.trigger)];
  const walRelayRatio = perSecond(walBest) / perSecond(triggerBest);
  verdicts.push({
    figure: 'relay with WAL capture vs with trigger capture', measured: rateOf(walBest, 'msg/s'), baseline: rateOf(triggerBest, 'msg/s'),
    ratio: percent(walRelayRatio), target: `>= ${percent(WAL_RELAY_TARGET)}`, met: walRelayRatio >= WAL_RELAY_TARGET && wal.problems.length === 0,
  });
  const walP99 = percentile(wal.latency.wal, 0.99);
  verdicts.push({
    figure: `WAL capture commit -> published p99 at ${int(walRate)}/s`, measured: ms(walP99), baseline: '', ratio: '', target: `< ${P99_TARGET_MS} ms`,
    met: walP99 < P99_TARGET_MS && wal.problems.length === 0,
  });
  say();
  say(`SUMMARY (${((performance.now() - started) / 1000).toFixed(0)} s, ${load()})`);
  say(`  extra figures, no target: consumer apply throughput ${rateOf(applied, 'messages/s')} (${APPLY.concurrency} in flight); ` +
    `commit -> applied p99 at ${int(lowRate)}/s ${ms(percentile(gentle.latencies, 0.99))}`);
  printSummary(verdicts);
} finally {
  await Promise.allSettled(orms.map((orm) => orm.close()));
  broker.remove();
  cluster.stop();
}
