// Environment sync benchmark: a pull of reference data (five related tables, foreign keys by
// natural key, ids different in every database) from a source database into a target one, on a
// real PostgreSQL cluster, against limits measured in the same run on the same rows:
// PostgreSQL's COPY piped from the source to the target, and a naive per-row findOne + persist
// through MikroORM. The pull itself is called in one place, ./pull.ts: the target pulls over HTTP
// from the source's server, which runs in a process of its own (./serve-worker.ts).
//   --rows N        rows in the data set, over the five tables (default 100,000)
//   --naive-rows N  rows of the naive copy's sample (default 5,000)
//   --runs N        COPY runs and pull runs, the fastest counting (default 3 and 2)
import { PostgresCluster } from '@entity-sync/testing';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { sql } from '../cqrs/table-digest.js';
import { runSibling } from '../graph/child.js';
import { describe, fastest, int, perSecond, runsNote, since, type Throughput } from '../graph/measure.js';
import { percent, printSummary, times, type Verdict } from '../graph/report.js';
import { differences } from '../graph/verify.js';
import { copyPipe } from './copy-pipe.js';
import { referenceTables } from './entities.js';
import { generateReferenceData, referenceShape, rowsOf, sampleShape } from './generate.js';
import { naivePull } from './naive-pull.js';
import { createReferenceData, type Orm } from './orm.js';
import { timedPull, type PullOutcome } from './timed-pull.js';
import { startSourceServer, type SourceServer } from './source-server.js';
import { naturalKeyDigest } from './verify.js';

const { values: args } = parseArgs({
  options: { rows: { type: 'string', default: '100000' }, 'naive-rows': { type: 'string', default: '5000' }, runs: { type: 'string' } },
  allowPositionals: true,
});
const total = Number(args.rows);
const naiveRows = Number(args['naive-rows']);
const copyRuns = Number(args.runs ?? 3);
const pullRuns = Number(args.runs ?? 2);
// the target's sequences start far from the source's, so that equal ids would be a bug, not luck
const TARGET_ID_OFFSET = 1_000_000_001;
const MEMORY_LIMIT_MB = 300;
const targets = { vsCopy: 0.3, vsNaive: 20, secondVsFirst: 0.25, memoryGrowth: 1.5 };

const say = (line = '') => console.log(line);
const label = (text: string) => `  ${text.padEnd(30)}`;
const rate = (t: Throughput) => `${int(perSecond(t))} rows/s`;
const mb = (value: number) => `${value.toFixed(0)} MB`;
const started = performance.now();

const cluster = await PostgresCluster.start();
const orms: Orm[] = [];
const servers: SourceServer[] = [];
const serve = async (name: string) => {
  const server = await startSourceServer(cluster.url(name));
  servers.push(server);
  return server;
};
const database = async (name: string, idOffset?: number) => {
  await cluster.createDatabase(name);
  const orm = await createReferenceData(cluster.url(name), idOffset);
  orms.push(orm);
  return orm;
};
let checksFailed = 0;
const check = async (what: string, name: string, expected: Map<string, string>) => {
  const wrong = differences(expected, await naturalKeyDigest(cluster.url(name)));
  if (wrong.length) {
    checksFailed += 1;
    say(`  CHECK FAILED: ${what} differs by natural key from what it was copied from in ${wrong.join(', ')}`);
  }
};
const unmeasured = (outcome: PullOutcome) => (outcome.status === 'failed' ? 'not measured: the pull FAILED' : '');

try {
  say(`env-sync bench: ${int(total)} rows asked, Node ${process.version}, ${cpus().length} CPUs, PostgreSQL from @entity-sync/testing`);
  const shape = referenceShape(total);
  const rows = rowsOf(shape);
  const generating = performance.now();
  const source = await database('source');
  await generateReferenceData(source, shape);
  say(`data set: ${int(rows)} rows in ${referenceTables.length} tables, generated in ${since(generating).toFixed(1)} s`);
  say(`  ${referenceTables.map((table) => `${table} ${int(shape[table])}`).join(', ')}`);
  say(`  every target's ids start at ${int(TARGET_ID_OFFSET)} (the source's at 1): rows match by natural key only`);
  const sourceDigest = await naturalKeyDigest(cluster.url('source'));

  say();
  say('COPY of every table from the source to an empty target, TO STDOUT piped into FROM STDIN, parents first, one transaction each side');
  const copies: Throughput[] = [];
  for (let run = 0; run < copyRuns; run++) {
    await database(`copy_target_${run}`);
    copies.push(await copyPipe(cluster.url('source'), cluster.url(`copy_target_${run}`), referenceTables));
    await check('the COPY target', `copy_target_${run}`, sourceDigest);
  }
  const copy = fastest(copies);
  say(`${label('COPY source -> target')}${describe(copy)}, ${runsNote(copies)}`);

  say();
  const sample = sampleShape(shape, naiveRows);
  say(`NAIVE per-row copy through MikroORM, time-boxed to a SAMPLE of ${int(rowsOf(sample))} of the ${int(rows)} rows`);
  say(`  (the first rows by id of every table in the same proportions: ${referenceTables.map((table) => `${table} ${int(sample[table])}`).join(', ')})`);
  say('  per row: findOne by natural key, findOne by natural key per foreign key, assign or create + persist; flush every 1,000 rows');
  const naiveTarget = await database('naive_target', TARGET_ID_OFFSET);
  const naive = await naivePull(source.em.fork(), naiveTarget.em.fork(), sample);
  say(`${label('naive findOne + persist')}${describe(naive)}, ${int(naive.calls)} ORM calls`);
  await check('the naive target', 'naive_target', await naturalKeyDigest(cluster.url('source'), sample));

  say();
  say(`PULL (./pull.ts pullOnce) into an empty target, then again with nothing changed; ${pullRuns === 1 ? '1 run' : `${pullRuns} runs, the fastest counting`}, a fresh target each`);
  say('  pullFrom in this process over HTTP from the source\'s envSyncRoutes (node:http on 127.0.0.1, static token) in a process of its own');
  const sourceServer = await serve('source');
  const firsts: Throughput[] = [];
  const seconds: Throughput[] = [];
  let rewritten = 0;
  let outcome: PullOutcome = { status: 'failed', message: 'no pull ran' };
  for (let run = 0; run < pullRuns; run++) {
    const name = `pull_target_${run}`;
    const target = await database(name, TARGET_ID_OFFSET);
    outcome = await timedPull(sourceServer, target);
    if (outcome.status !== 'done') break;
    firsts.push(outcome);
    await check('the target after the first pull', name, sourceDigest);
    // rows the second pull inserts or updates get a transaction id above this one
    const [{ xid }] = (await sql<{ xid: string }>(cluster.url(name), 'select pg_current_xact_id()::text as xid')) as [{ xid: string }];
    outcome = await timedPull(sourceServer, target);
    if (outcome.status !== 'done') break;
    seconds.push(outcome);
    await check('the target after the second pull', name, sourceDigest);
    for (const table of referenceTables) {
      const [{ n }] = (await sql<{ n: string }>(cluster.url(name), `select count(*) as n from ${table} where xmin::text::bigint > ${xid}`)) as [{ n: string }];
      rewritten += Number(n);
    }
  }
  if (outcome.status === 'failed') {
    process.exitCode = 1;
    say(`  the pull FAILED: ${outcome.message}`);
  }
  const first = firsts.length ? fastest(firsts) : undefined;
  const second = seconds.length ? fastest(seconds) : undefined;
  if (first) {
    say(`${label('first pull')}${describe(first)}, ${runsNote(firsts)}`);
    if (first.rows !== rows) say(`  NOTE: the pull reports ${int(first.rows)} rows, the source has ${int(rows)}`);
  }
  if (second) {
    say(`${label('second pull, nothing changed')}${describe(second)}, ${runsNote(seconds)}; rows it rewrote: ${int(rewritten)}`);
    say('  every target was compared with the source by natural key (row count and hash of natural-key-joined rows per table)');
  }

  say();
  const sizes = [Math.max(1, Math.round(total / 4)), total];
  say(`PEAK MEMORY of the pulling side alone, at ${sizes.map(int).join(' and ')} rows: pullFrom in a child process of its own (its peak RSS, VmHWM;`);
  say('  V8 heap sampled every 10 ms) holding the target\'s ORM and the HTTP client; the source server runs in another process');
  type ChildRun = PullOutcome & { peakRssMb: number; peakHeapMb: number };
  const idle = await runSibling<ChildRun>('../env-sync/pull-worker', ['idle', sourceServer.url, sourceServer.token, cluster.url('source')]);
  say(`${label('target ORM started, no pull')}${mb(idle.peakRssMb)} RSS, ${mb(idle.peakHeapMb)} heap`);
  const memory: ChildRun[] = [];
  for (const [i, size] of sizes.entries()) {
    let from = 'source';
    if (size !== total) {
      from = `source_${size}`;
      const small = await database(from);
      await generateReferenceData(small, referenceShape(size));
    }
    await database(`memory_target_${i}`, TARGET_ID_OFFSET);
    const server = size === total ? sourceServer : await serve(from);
    const run = await runSibling<ChildRun>('../env-sync/pull-worker', ['pull', server.url, server.token, cluster.url(`memory_target_${i}`)]);
    memory.push(run);
    say(`${label(`pull of ${int(size)} rows`)}${run.status === 'done' ? `${mb(run.peakRssMb)} RSS, ${mb(run.peakHeapMb)} heap (${describe(run)})` : unmeasured(run)}`);
    if (run.status === 'failed') process.exitCode = 1;
  }

  const [small, large] = memory as [ChildRun, ChildRun];
  // a figure of the pull, or "not measured" (a miss) when `run` has none to give
  const pulled = (figure: string, value: number | undefined, verdict: Omit<Verdict, 'figure' | 'met'>, met: (value: number) => boolean, run = outcome): Verdict =>
    value === undefined
      ? { figure, ...verdict, measured: run.status === 'failed' ? 'FAILED' : 'not measured', ratio: '', met: false }
      : { figure, ...verdict, met: met(value) };
  const memoryVerdict = (run: ChildRun, size: number) => pulled(`pull peak RSS, ${int(size)} rows`, run.status === 'done' ? run.peakRssMb : undefined,
    { measured: `${mb(run.peakRssMb)} (heap ${mb(run.peakHeapMb)})`, baseline: `idle ${mb(idle.peakRssMb)}`, ratio: '', target: `< ${MEMORY_LIMIT_MB} MB` },
    (value) => value < MEMORY_LIMIT_MB, run);
  const growth = small.status === 'done' && large.status === 'done'
    ? (large.peakRssMb - idle.peakRssMb) / Math.max(1, small.peakRssMb - idle.peakRssMb) : undefined;
  say();
  say(`SUMMARY at ${int(rows)} rows${first ? '' : ` (pull: ${unmeasured(outcome)})`}; the naive copy on a sample of ${int(rowsOf(sample))} rows`);
  printSummary([
    pulled('first pull vs COPY', first && perSecond(first) / perSecond(copy),
      { measured: first ? rate(first) : '', baseline: rate(copy), ratio: first ? percent(perSecond(first) / perSecond(copy)) : '', target: `>= ${percent(targets.vsCopy)}` },
      (value) => value >= targets.vsCopy),
    pulled('first pull vs naive findOne + persist', first && perSecond(first) / perSecond(naive),
      { measured: first ? rate(first) : '', baseline: rate(naive), ratio: first ? times(perSecond(first) / perSecond(naive)) : '', target: `>= ${targets.vsNaive}x` },
      (value) => value >= targets.vsNaive),
    pulled('second unchanged pull vs first (time)', first && second && second.seconds / first.seconds,
      { measured: second ? `${second.seconds.toFixed(2)} s` : '', baseline: first ? `${first.seconds.toFixed(2)} s` : '', ratio: first && second ? percent(second.seconds / first.seconds) : '', target: `<= ${percent(targets.secondVsFirst)}` },
      (value) => value <= targets.secondVsFirst),
    pulled('second unchanged pull writes nothing', second && rewritten,
      { measured: `${int(rewritten)} rows rewritten`, baseline: '', ratio: '', target: '0 rows' }, (value) => value === 0),
    memoryVerdict(small, sizes[0]!),
    memoryVerdict(large, sizes[1]!),
    pulled(`pull memory bounded, ${int(sizes[0]!)} -> ${int(sizes[1]!)} rows`, growth,
      { measured: `+${mb(small.peakRssMb - idle.peakRssMb)} -> +${mb(large.peakRssMb - idle.peakRssMb)}`, baseline: 'above idle', ratio: growth === undefined ? '' : times(growth), target: `<= ${targets.memoryGrowth}x` },
      (value) => value <= targets.memoryGrowth),
  ]);
  if (checksFailed) {
    process.exitCode = 1;
    say(`${checksFailed} checks FAILED (see above)`);
  }
  say(`bench took ${since(started).toFixed(0)} s`);
} finally {
  await Promise.allSettled([...servers.map((server) => server.close()), ...orms.map((orm) => orm.close())]);
  cluster.stop();
}
