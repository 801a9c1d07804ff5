// Push/pull benchmark on a real PostgreSQL cluster: one tenant-scoped @SyncModel table holding
// the pulled tenant's rows and other tenants' rows interleaved, served by pushPullRoutes
// (permissions on) and pullStreamRoutes in a server process of its own (./serve-worker.ts).
//  1. an initial pull of the tenant's rows through POST /pull by a client in a process of its own
//     (./pull-worker.ts): paged with the checkpoint, streamed as NDJSON, and streamed with the rows
//     as arrays (the summary's figure), against COPY (SELECT ...) TO STDOUT of the same rows and a
//     naive ORM pull paged with OFFSET (./naive-pull.ts), with the CPU time and the peak memory of
//     the client, the server and PostgreSQL;
//  2. pushes of batches of rows through POST /push as a user whose role's row filter checks each
//     row (./push.ts);
//  3. the cost of the audit trail on those pushes and on an em.flush() of 1,000 changed rows,
//     by turns with it off and on (./audit-cost.ts);
//  4. commit -> live client notified on GET /pull/stream at a steady write rate (./live.ts).
//   --rows N         the pulled tenant's rows (default 1,000,000)
//   --other-rows N   the other tenants' rows in the same table (default rows / 2)
//   --limit N        changes per pull answer (default 10,000, the most the route takes)
//   --runs N         COPY runs and runs of each pull, the fastest counting (default 3; 5 of the summary's pull)
//   --naive-pages N  pages the naive pull reads, spread over the pull (default 10)
//   --pushes N       pushes (default 40) of --batch rows (default 100); the audit's rounds push half as many
//   --audit-rounds N rounds of the audit trail's cost, each off then on (default 3)
//   --rate N         writes per second of the live part (default 100), --writes N of them (default 500)
//   --profile DIR    CPU profiles of the server and the pull client (node --cpu-prof) into DIR
import { PostgresCluster } from '@entity-sync/testing';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { parseArgs, promisify } from 'node:util';
import { sql } from '../cqrs/table-digest.js';
import { siblingArgs } from '../graph/child.js';
import { describe, fastest, int, perSecond, runsNote, since, type Throughput } from '../graph/measure.js';
import { percent, printSummary, times, type Verdict } from '../graph/report.js';
import { measureAuditCost } from './audit-cost.js';
import { copyTenant } from './copy-limit.js';
import { postgresCpuSeconds } from './postgres-cpu.js';
import { PULLED_TENANT } from './entities.js';
import { generateItems, READER_ROLE, WRITER, WRITER_ROLE } from './generate.js';
import { measureLive } from './live.js';
import { naivePull } from './naive-pull.js';
import { openItems } from './orm.js';
import { percentile, pushBatches, userToken } from './push.js';
import { startPushPullServer, type PushPullServer } from './server.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' }, 'other-rows': { type: 'string' }, limit: { type: 'string', default: '10000' },
    runs: { type: 'string' }, 'naive-pages': { type: 'string', default: '10' }, pushes: { type: 'string', default: '40' }, 'audit-rounds': { type: 'string', default: '3' },
    batch: { type: 'string', default: '100' }, rate: { type: 'string', default: '100' }, writes: { type: 'string', default: '500' },
    profile: { type: 'string' },
  },
  allowPositionals: true,
});
const tenantRows = Number(args.rows);
const otherRows = Number(args['other-rows'] ?? Math.round(tenantRows / 2));
const limit = Number(args.limit);
const copyRuns = Number(args.runs ?? 3);
const pullRuns = Number(args.runs ?? 3);
// the pull of the summary's figure, and the COPY runs paired with it
const arraysRuns = Number(args.runs ?? 5);
const NAIVE_PAGE = 1000;
const targets = { vsCopy: 0.5, vsNaive: 10, memoryMb: 300, pushP99Ms: 250, liveP99Ms: 50, auditCost: 0.15 };
const profileArgs = args.profile ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : [];

// the pull client, with the profile's Node arguments (runSibling takes none)
const runPullWorker = async <T>(args: string[]): Promise<T> => {
  const { stdout } = await promisify(execFile)(process.execPath, [...profileArgs, ...siblingArgs('../push-pull/pull-worker', args)], { maxBuffer: 16 << 20, timeout: 15 * 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
};
const say = (line = '') => console.log(line);
const label = (text: string) => `  ${text.padEnd(34)}`;
const rate = (t: Throughput) => `${int(perSecond(t))} rows/s`;
const mb = (value: number) => `${value.toFixed(0)} MB`;
const ms = (value: number) => `${value.toFixed(1)} ms`;
const started = performance.now();

const cluster = await PostgresCluster.start();
let server: PushPullServer | undefined;
try {
  say(`push/pull bench: ${int(tenantRows)} rows of the pulled tenant, ${int(otherRows)} of others, Node ${process.version}, ${cpus().length} CPUs, PostgreSQL from @entity-sync/testing`);
  await cluster.createDatabase('bench');
  const url = cluster.url('bench');
  const generating = performance.now();
  const orm = await openItems(url);
  try {
    await generateItems(orm, tenantRows, otherRows);
  } finally {
    await orm.close();
  }
  say(`data set: pp_item (8 columns: int id, text tenant, owner, title, double amount, int quantity, boolean done, timestamptz updated_at), installPushPull, generated in ${since(generating).toFixed(1)} s`);
  const [{ n }] = (await sql<{ n: string }>(url, `SELECT count(*) AS n FROM pp_item WHERE tenant = '${PULLED_TENANT}'`)) as [{ n: string }];
  const expected = Number(n);

  say();
  say(`COPY (SELECT <the 8 columns> FROM pp_item WHERE tenant = '${PULLED_TENANT}') TO STDOUT, text format, read to the end by a client counting lines`);
  const copies: Throughput[] = [];
  for (let run = 0; run < copyRuns; run++) copies.push(await copyTenant(url, PULLED_TENANT));
  say(`${label('COPY of the tenant\'s rows')}${describe(fastest(copies))}, ${runsNote(copies)}`);
  say('  (one more COPY before each pull run below, so that both see the machine as it is then)');
  const copy = () => fastest(copies);

  say();
  say(`NAIVE pull through MikroORM: find(updatedAt > last, order by updatedAt, id) paged with OFFSET, ${int(NAIVE_PAGE)} rows a page, entities serialized to JSON, in this process;`);
  say(`  ${args['naive-pages']} pages sampled at offsets spread over the ${int(expected)} rows, the whole pull's time extrapolated from their mean`);
  const naiveOrm = await openItems(url);
  const naive = await naivePull(naiveOrm, PULLED_TENANT, expected, NAIVE_PAGE, Number(args['naive-pages'])).finally(() => naiveOrm.close());
  say(`${label('naive ORM + OFFSET (extrapolated)')}${describe(naive)}, from ${naive.sampledPages} pages of ${int(naive.sampledRows)} rows`);

  say();
  const secret = randomBytes(32).toString('hex');
  server = await startPushPullServer(url, secret, profileArgs);
  const reader = await userToken(secret, 'user_r', [READER_ROLE]);
  type PullRun = Throughput & { pages: number; parseSeconds: number; cpuSeconds: number; checkpoint: string; peakRssMb: number; peakHeapMb: number;
    server: { peakRssMb: number; peakHeapMb: number; cpuSeconds: number }; postgresCpuSeconds?: number };
  const pullRunsOf = async (mode: 'pages' | 'stream' | 'stream-arrays', count = pullRuns) => {
    const runs: PullRun[] = [];
    const paired: Throughput[] = [];
    for (let run = 0; run < count; run++) {
      paired.push(await copyTenant(url, PULLED_TENANT));
      copies.push(paired.at(-1)!);
      await server!.resetPeak();
      const postgresFrom = postgresCpuSeconds();
      const pulled = await runPullWorker<Omit<PullRun, 'server'>>([server!.url, reader, PULLED_TENANT, String(limit), mode]);
      const postgresTo = postgresCpuSeconds();
      runs.push({ ...pulled, server: await server!.memory(), ...(postgresFrom !== undefined ? { postgresCpuSeconds: postgresTo! - postgresFrom } : {}) });
      say(`${label(`${{ pages: 'paged', stream: 'streamed', 'stream-arrays': 'streamed arrays' }[mode]} pull run ${run + 1}`)}${describe(pulled)} in ${int(pulled.pages)} ${mode === 'pages' ? 'pages' : 'lines'}; ` +
        `client ${mb(pulled.peakRssMb)} RSS (${mb(pulled.peakHeapMb)} heap), server ${mb(runs[run]!.server.peakRssMb)} RSS (${mb(runs[run]!.server.peakHeapMb)} heap)`);
    }
    const best = fastest(runs);
    const limitOf = fastest(paired);
    say(`  fastest: ${rate(best)}, ${percent(perSecond(best) / perSecond(limitOf))} of the fastest of the ${paired.length} COPY runs between them (${rate(limitOf)})`);
    const cpu = (seconds: number) => `${seconds.toFixed(2)} s (${percent(seconds / best.seconds)})`;
    say(`  CPU time of the fastest run: client ${cpu(best.cpuSeconds)}, server ${cpu(best.server.cpuSeconds)}` +
      `${best.postgresCpuSeconds === undefined ? '' : `, PostgreSQL ${cpu(best.postgresCpuSeconds)}`}, against ${cpus().length} CPUs`);
    say(`  of the fastest run, the client's JSON.parse alone took ${best.parseSeconds.toFixed(2)} s (${percent(best.parseSeconds / best.seconds)} of it): ` +
      `a client that parses at that speed and does nothing else pulls at most ${rate({ rows: best.rows, seconds: best.parseSeconds })}, ${percent(best.rows / best.parseSeconds / perSecond(limitOf))} of COPY`);
    if (best.rows !== expected) say(`  CHECK FAILED: the pull brought ${int(best.rows)} rows, the tenant has ${int(expected)}`);
    return { best, limit: limitOf, clientPeak: Math.max(...runs.map((run) => run.peakRssMb)), serverPeak: Math.max(...runs.map((run) => run.server.peakRssMb)) };
  };
  say(`PULL through POST /sync/pull (node:http on 127.0.0.1, server in its own process, permissions on, a JWT of role ${READER_ROLE}), by a client in a process of its own`);
  say(`  (fetch for pages, node:http for streams) that parses every answer; ${pullRuns === 1 ? '1 run' : `${pullRuns} runs, the fastest counting`}; peak RSS (VmHWM) of each process over its run`);
  say(`  paged: one request per answer of ${int(limit)} changes, the checkpoint of each sent with the next, each answer read whole and then parsed`);
  const paged = await pullRunsOf('pages');
  say(`  streamed: one request with accept: application/x-ndjson, answers of ${int(limit)} changes a line, each line parsed as soon as it is complete`);
  const streamed = await pullRunsOf('stream');
  say(`  streamed arrays: the same with documents: 'arrays' (each row an array of its values, the model's fields named once a line), rows counted as parsed`);
  const arrays = await pullRunsOf('stream-arrays', arraysRuns);
  const pull = arrays.best;
  const { clientPeak, serverPeak } = arrays;

  say();
  const pushes = Number(args.pushes);
  const batch = Number(args.batch);
  const writer = await userToken(secret, WRITER, [WRITER_ROLE]);
  say(`PUSH through POST /sync/push: ${pushes} pushes of ${batch} rows one after the other, a JWT of role ${WRITER_ROLE} (create + update, row filter owner = the user),`);
  say('  the first half creating rows, the second updating them');
  const [{ top }] = (await sql<{ top: number }>(url, 'SELECT max(id) AS top FROM pp_item')) as [{ top: number }];
  const pushed = await pushBatches(server.url, writer, pull.checkpoint, top + 1, pushes, batch);
  say(`${label('push of a batch')}p50 ${ms(percentile(pushed.latencies, 0.5))}, p99 ${ms(percentile(pushed.latencies, 0.99))}, max ${ms(pushed.latencies.at(-1)!)}; ${describe(pushed)}`);
  if (pushed.notApplied) say(`  CHECK FAILED: ${pushed.notApplied} rows were not created / updated`);

  say();
  const auditRounds = Number(args['audit-rounds']);
  const flushRows = 1000;
  say(`AUDIT TRAIL on PpItem (installAudit), by turns off and on, ${auditRounds} rounds, the fastest of each counting: ${pushes / 2} pushes of ${batch} rows as above,`);
  say(`  and 5 em.flush()es a round of ${int(flushRows)} rows the unit of work loaded and changed (one property each)`);
  const auditOrm = await openItems(url);
  const audit = await measureAuditCost(auditOrm, server.url, writer, pull.checkpoint, top + 1 + pushes * batch, { rounds: auditRounds, pushes: pushes / 2, batch, flushRows })
    .finally(() => auditOrm.close());
  const auditShare = (on: Throughput, off: Throughput) => perSecond(on) / perSecond(off);
  say(`${label('push, trail off')}${describe(audit.pushOff)}`);
  say(`${label('push, trail on')}${describe(audit.pushOn)}: ${percent(auditShare(audit.pushOn, audit.pushOff))} of the throughput without it`);
  say(`${label('em.flush(), trail off')}${ms(audit.flushOff.seconds * 1000)} for ${int(audit.flushOff.rows)} rows`);
  say(`${label('em.flush(), trail on')}${ms(audit.flushOn.seconds * 1000)} for ${int(audit.flushOn.rows)} rows: ${percent(auditShare(audit.flushOn, audit.flushOff))} of the throughput without it; ` +
    `${int(audit.entriesPerFlush)} trail entries a flush`);
  if (audit.entriesPerFlush !== flushRows) say(`  CHECK FAILED: a flush of ${int(flushRows)} changed rows wrote ${int(audit.entriesPerFlush)} trail entries`);

  say();
  const writeRate = Number(args.rate);
  say(`LIVE: a client on GET /sync/pull/stream?tenant=${PULLED_TENANT} (fetch, reading the events), ${args.writes} single-row updates committed at ${writeRate}/s by another connection;`);
  say('  latency from the COMMIT sent to the change event received');
  const live = await measureLive(server.url, reader, url, writeRate, Number(args.writes));
  const lost = live.writes - live.latencies.length;
  say(`${label('commit -> change event')}p50 ${ms(percentile(live.latencies, 0.5))}, p99 ${ms(percentile(live.latencies, 0.99))}, max ${ms(live.latencies.at(-1) ?? NaN)}; ` +
    `${int(live.writes)} writes at ${live.rate.toFixed(0)}/s, ${int(live.events)} events${lost ? `, ${lost} writes NEVER notified` : ''}`);

  say();
  say(`SUMMARY at ${int(expected)} rows of the tenant (${int(otherRows)} of others in the table); the pull and COPY each the fastest of ${arraysRuns} runs taken by turns; the naive pull extrapolated from ${naive.sampledPages} pages`);
  const livePercentile = (p: number) => (lost ? Infinity : percentile(live.latencies, p));
  const verdicts: Verdict[] = [
    { figure: 'initial pull (NDJSON, arrays) vs COPY', measured: rate(pull), baseline: rate(arrays.limit), ratio: percent(perSecond(pull) / perSecond(arrays.limit)),
      target: `>= ${percent(targets.vsCopy)}`, met: pull.rows === expected && perSecond(pull) / perSecond(arrays.limit) >= targets.vsCopy },
    { figure: 'initial pull (NDJSON, arrays) vs naive', measured: rate(pull), baseline: rate(naive), ratio: times(perSecond(pull) / perSecond(naive)),
      target: `>= ${targets.vsNaive}x`, met: perSecond(pull) / perSecond(naive) >= targets.vsNaive },
    { figure: 'pull client peak RSS (streamed)', measured: mb(clientPeak), baseline: '', ratio: '', target: `< ${targets.memoryMb} MB`, met: clientPeak < targets.memoryMb },
    { figure: 'pull server peak RSS (streamed)', measured: mb(serverPeak), baseline: '', ratio: '', target: `< ${targets.memoryMb} MB`, met: serverPeak < targets.memoryMb },
    { figure: `push of ${batch} rows p50 / p99`, measured: `${ms(percentile(pushed.latencies, 0.5))} / ${ms(percentile(pushed.latencies, 0.99))}`, baseline: rate(pushed), ratio: '',
      target: `p99 < ${targets.pushP99Ms} ms`, met: !pushed.notApplied && percentile(pushed.latencies, 0.99) < targets.pushP99Ms },
    { figure: `commit -> live client p50 / p99 at ${writeRate}/s`, measured: `${ms(livePercentile(0.5))} / ${ms(livePercentile(0.99))}`, baseline: '', ratio: '',
      target: `p99 < ${targets.liveP99Ms} ms`, met: livePercentile(0.99) < targets.liveP99Ms },
    { figure: 'push with the audit trail vs without', measured: rate(audit.pushOn), baseline: rate(audit.pushOff), ratio: percent(auditShare(audit.pushOn, audit.pushOff)),
      target: `>= ${percent(1 - targets.auditCost)}`, met: auditShare(audit.pushOn, audit.pushOff) >= 1 - targets.auditCost },
    { figure: `em.flush() of ${int(flushRows)} rows, audit trail vs without`, measured: ms(audit.flushOn.seconds * 1000), baseline: ms(audit.flushOff.seconds * 1000),
      ratio: percent(auditShare(audit.flushOn, audit.flushOff)), target: `>= ${percent(1 - targets.auditCost)}`,
      met: audit.entriesPerFlush === flushRows && auditShare(audit.flushOn, audit.flushOff) >= 1 - targets.auditCost },
  ];
  printSummary(verdicts);
  if (pull.rows !== expected || paged.best.rows !== expected || pushed.notApplied || lost || audit.entriesPerFlush !== flushRows) process.exitCode = 1;
  say(`bench took ${since(started).toFixed(0)} s`);
} finally {
  await server?.close();
  cluster.stop();
}
