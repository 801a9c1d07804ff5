// Graph export / import benchmark. Every figure is a ratio to a limit measured in the same run
// on the same rows: PostgreSQL's COPY, a per-object walk through MikroORM, MikroORM's
// persist/flush. BENCH_ROWS sets the data set size (default 1,000,000); BENCH_RUNS how many
// times the export and the import (each with its COPY limit) are repeated, the fastest counting.
import { PostgresCluster } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSibling } from './child.js';
import { copyIn, copyOut, type CopyDump } from './copy-limits.js';
import { Employee, Store } from './entities.js';
import { generateShop, shopShape, shopTables, smallRootEmployee, STORES } from './generate.js';
import { timedExport, timedImport, type PhasedRun } from './instrumented.js';
import { describe, fastest, int, perSecond, runsNote, since, type Throughput } from './measure.js';
import { naiveWalk } from './naive-walk.js';
import { persistFlush } from './persist-flush.js';
import { percent, printSummary, times } from './report.js';
import { createShop } from './shop-orm.js';
import { differences, digest } from './verify.js';

const total = Number(process.env.BENCH_ROWS ?? 1_000_000);
const exportRuns = Number(process.env.BENCH_RUNS ?? 3);
const importRuns = Number(process.env.BENCH_RUNS ?? 2);
// one store takes well under a second: single runs of it are mostly noise, so each side gets the best of three
const storeRuns = Number(process.env.BENCH_RUNS ?? 3);
// a small root takes tens of milliseconds: the best of five
const smallRuns = Number(process.env.BENCH_RUNS ?? 5);
const NAIVE_BUDGET_SECONDS = 180;
const MEMORY_LIMIT_MB = 300;

const say = (line = '') => console.log(line);
const label = (text: string) => `  ${text.padEnd(27)}`;
const phases = (run: PhasedRun, first: string, second: string) =>
  `${label('')}  ${first} ${run.first.toFixed(2)} s + ${second} ${(run.seconds - run.first).toFixed(2)} s, ${run.statements} statements`;

const dir = mkdtempSync(join(tmpdir(), 'entity-sync-bench-'));
const cluster = await PostgresCluster.start();
const orms: MikroORM[] = [];
// an empty database with the shop schema; every ORM is closed with the cluster at the end
const database = async (name: string) => {
  await cluster.createDatabase(name);
  const orm = await createShop(cluster.url(name));
  orms.push(orm);
  return orm;
};
const check = async (what: string, name: string, expected: Map<string, string>) => {
  const wrong = differences(expected, await digest(cluster.url(name), shopTables));
  if (wrong.length) say(`  CHECK FAILED: ${what} differs from what it was loaded from in ${wrong.join(', ')}`);
};

try {
  say(`graph bench: ${int(total)} rows asked, Node ${process.version}, ${cpus().length} CPUs, PostgreSQL from @entity-sync/testing`);
  const source = await database('source');
  const shape = shopShape(total);
  const generating = performance.now();
  await generateShop(source, shape);
  const rows = Object.values(shape.rows).reduce((a, b) => a + b, 0);
  say(`data set: ${int(rows)} rows in ${shopTables.length} tables, owned by ${STORES} stores, generated in ${since(generating).toFixed(1)} s`);
  say(`  ${Object.entries(shape.rows).map(([table, n]) => `${table} ${int(n)}`).join(', ')}`);
  const sourceDigest = await digest(cluster.url('source'), shopTables);

  say();
  say(`EXPORT of the whole graph (${STORES} store roots), NDJSON to a file; one warm-up run each, then alternating runs`);
  const allStores = Array.from({ length: STORES }, (_, i) => ({ entity: Store, key: i + 1 }));
  const file = join(dir, 'shop.ndjson');
  await copyOut(cluster.url('source'), shopTables);
  await timedExport(allStores, source.em.fork(), file);
  const copyOuts: CopyDump[] = [];
  const exports: PhasedRun[] = [];
  for (let run = 0; run < exportRuns; run++) {
    copyOuts.push(await copyOut(cluster.url('source'), shopTables));
    exports.push(await timedExport(allStores, source.em.fork(), file));
  }
  const copy = fastest(copyOuts);
  const exported = fastest(exports);
  say(`${label('COPY (SELECT *) TO STDOUT')}${describe(copy)}, ${(copy.bytes / 1e6).toFixed(0)} MB, ${runsNote(copyOuts)}`);
  say(`${label('exportGraph')}${describe(exported)}, ${(statSync(file).size / 1e6).toFixed(0)} MB, ${runsNote(exports)}`);
  say(phases(exported, 'walk', 'write'));
  if (exported.rows !== copy.rows) say(`  NOTE: the export has ${int(exported.rows)} rows, COPY ${int(copy.rows)}`);

  say();
  say('NAIVE per-object walk through MikroORM (find / findOne / collection init, one call at a time), one store');
  const storeFile = join(dir, 'store-1.ndjson');
  const storeExports: PhasedRun[] = [];
  const naives: Awaited<ReturnType<typeof naiveWalk>>[] = [];
  for (let run = 0; run < storeRuns; run++) {
    storeExports.push(await timedExport({ entity: Store, key: 1 }, source.em.fork(), storeFile));
    naives.push(await naiveWalk(source, { entity: 'Store', id: 1 }, NAIVE_BUDGET_SECONDS));
  }
  const storeExport = fastest(storeExports);
  const naive = fastest(naives);
  say(`${label('naive walk')}${describe(naive)}, ${int(naive.calls)} ORM calls, ${runsNote(naives)}` +
    `${naive.complete ? '' : `, STOPPED after ${NAIVE_BUDGET_SECONDS} s`}`);
  say(`${label('exportGraph, same store')}${describe(storeExport)}, ${storeExport.statements} statements, ${runsNote(storeExports)}`);
  if (naive.complete && naive.rows !== storeExport.rows) say(`  NOTE: the naive walk reached ${int(naive.rows)} rows, the export ${int(storeExport.rows)}`);

  const employee = await smallRootEmployee(source);
  say();
  say(`NAIVE per-object walk against exportGraph, one small root: employee ${employee}, the one handling the most orders among those who manage nobody`);
  const smallFile = join(dir, 'employee.ndjson');
  const smallExports: PhasedRun[] = [];
  const smallNaives: Awaited<ReturnType<typeof naiveWalk>>[] = [];
  for (let run = 0; run < smallRuns; run++) {
    smallExports.push(await timedExport({ entity: Employee, key: employee }, source.em.fork(), smallFile));
    smallNaives.push(await naiveWalk(source, { entity: 'Employee', id: employee }, NAIVE_BUDGET_SECONDS));
  }
  const smallExport = fastest(smallExports);
  const smallNaive = fastest(smallNaives);
  say(`${label('naive walk')}${describe(smallNaive)}, ${int(smallNaive.calls)} ORM calls, ${runsNote(smallNaives)}`);
  say(`${label('exportGraph, same employee')}${describe(smallExport)}, ${smallExport.entities} tables, ${smallExport.statements} statements, ${runsNote(smallExports)}`);
  if (smallNaive.complete && smallNaive.rows !== smallExport.rows) say(`  NOTE: the naive walk reached ${int(smallNaive.rows)} rows, the export ${int(smallExport.rows)}`);

  say();
  say('IMPORT of the NDJSON file into an empty database; a warm-up import of one store, then alternating runs');
  const warm = await database('warm_target');
  await timedImport(storeFile, warm.em.fork());
  const copyIns: Throughput[] = [];
  const imports: PhasedRun[] = [];
  for (let run = 0; run < importRuns; run++) {
    await database(`copy_target_${run}`);
    copyIns.push({ rows: copy.rows, seconds: await copyIn(cluster.url(`copy_target_${run}`), copy) });
    await check('the COPY target', `copy_target_${run}`, sourceDigest);
    const target = await database(`import_target_${run}`);
    imports.push(await timedImport(file, target.em.fork()));
    await check('the import target', `import_target_${run}`, sourceDigest);
  }
  const copyLoad = fastest(copyIns);
  const imported = fastest(imports);
  say(`${label('COPY FROM STDIN')}${describe(copyLoad)}, ${runsNote(copyIns)}`);
  say(`${label('importGraph')}${describe(imported)}, ${runsNote(imports)}`);
  say(phases(imported, 'load', 'check and insert'));
  const storeDigest = await digest(cluster.url('warm_target'), shopTables);
  const persists: Throughput[] = [];
  const storeImports: PhasedRun[] = [];
  for (let run = 0; run < storeRuns; run++) {
    persists.push(await persistFlush(await database(`persist_target_${run}`), storeFile));
    await check('the persist/flush target', `persist_target_${run}`, storeDigest);
    storeImports.push(await timedImport(storeFile, (await database(`store_target_${run}`)).em.fork()));
    await check('the one-store import target', `store_target_${run}`, storeDigest);
  }
  const persisted = fastest(persists);
  const storeImport = fastest(storeImports);
  say(`${label('persist/flush, one store')}${describe(persisted)} (em.create, em.flush every 1,000 rows, one transaction), ${runsNote(persists)}`);
  say(`${label('importGraph, same store')}${describe(storeImport)}, ${storeImport.statements} statements, ${runsNote(storeImports)}`);
  say('  every target was compared with what it was loaded from (row count and row hash per table)');

  say();
  say('PEAK MEMORY of an NDJSON export and import of the whole graph, each in a child process (its own peak RSS, VmHWM)');
  type ChildRun = Throughput & { peakRssMb: number };
  const idle = await runSibling<ChildRun>('memory-worker', ['idle', cluster.url('source'), '']);
  const exportMemory = await runSibling<ChildRun>('memory-worker', ['export', cluster.url('source'), join(dir, 'child.ndjson')]);
  await database('memory_target');
  const importMemory = await runSibling<ChildRun>('memory-worker', ['import', cluster.url('memory_target'), join(dir, 'child.ndjson')]);
  say(`${label('ORM started, nothing run')}${idle.peakRssMb.toFixed(0)} MB`);
  say(`${label('exportGraph')}${exportMemory.peakRssMb.toFixed(0)} MB (${describe(exportMemory)})`);
  say(`${label('importGraph')}${importMemory.peakRssMb.toFixed(0)} MB (${describe(importMemory)})`);

  const rate = (t: Throughput) => `${int(perSecond(t))} rows/s`;
  const exportVsCopy = perSecond(exported) / perSecond(copy);
  const exportVsNaive = perSecond(exported) / perSecond(naive);
  const storeVsNaive = perSecond(storeExport) / perSecond(naive);
  const smallVsNaive = perSecond(smallExport) / perSecond(smallNaive);
  const importVsCopy = perSecond(imported) / perSecond(copyLoad);
  const importVsPersist = perSecond(imported) / perSecond(persisted);
  const storeVsPersist = perSecond(storeImport) / perSecond(persisted);
  say();
  say(`SUMMARY at ${int(rows)} rows`);
  printSummary([
    { figure: 'export vs COPY TO', measured: rate(exported), baseline: rate(copy), ratio: percent(exportVsCopy), target: '>= 40%', met: exportVsCopy >= 0.4 },
    { figure: 'export vs naive walk', measured: rate(exported), baseline: rate(naive), ratio: times(exportVsNaive), target: '>= 20x', met: exportVsNaive >= 20 },
    { figure: 'export vs naive walk, same store', measured: rate(storeExport), baseline: rate(naive), ratio: times(storeVsNaive), target: '>= 20x', met: storeVsNaive >= 20 },
    { figure: `export vs naive walk, small root (${int(smallExport.rows)} rows, ${smallExport.statements} statements)`, measured: rate(smallExport),
      baseline: rate(smallNaive), ratio: times(smallVsNaive), target: '>= 20x', met: smallVsNaive >= 20 },
    { figure: 'import vs COPY FROM', measured: rate(imported), baseline: rate(copyLoad), ratio: percent(importVsCopy), target: '>= 75%', met: importVsCopy >= 0.75 },
    { figure: 'import vs persist/flush', measured: rate(imported), baseline: rate(persisted), ratio: times(importVsPersist), target: '>= 5x', met: importVsPersist >= 5 },
    { figure: 'import vs persist/flush, same store', measured: rate(storeImport), baseline: rate(persisted), ratio: times(storeVsPersist), target: '>= 5x', met: storeVsPersist >= 5 },
    { figure: 'export peak RSS', measured: `${exportMemory.peakRssMb.toFixed(0)} MB`, baseline: '', ratio: '', target: `< ${MEMORY_LIMIT_MB} MB`, met: exportMemory.peakRssMb < MEMORY_LIMIT_MB },
    { figure: 'import peak RSS', measured: `${importMemory.peakRssMb.toFixed(0)} MB`, baseline: '', ratio: '', target: `< ${MEMORY_LIMIT_MB} MB`, met: importMemory.peakRssMb < MEMORY_LIMIT_MB },
  ]);
} finally {
  await Promise.allSettled(orms.map((orm) => orm.close()));
  cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
