// Graph export / import benchmark: figures as ratios against PostgreSQL COPY measured in the
// same run, and against the naive ways (a per-object walk, MikroORM persist/flush).
// BENCH_ROWS sets the data set size (default 1,000,000).
import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { PostgresCluster } from '@entity-sync/testing';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copyIn, copyOut, naiveWalk, persistFlush, since } from './baselines.js';
import { Region, shopEntities } from './entities.js';
import { generateShop } from './generate.js';

const total = Number(process.env.BENCH_ROWS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'entity-sync-bench-'));
const cluster = await PostgresCluster.start();
const open = async (database: string, create: boolean) => {
  await cluster.createDatabase(database);
  const orm = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: cluster.url(database), entities: shopEntities, extensions: [EntitySync] });
  if (create) await orm.schema.createSchema();
  return orm;
};
const rate = (rows: number, seconds: number) => Math.round(rows / seconds);
const fmt = (n: number) => n.toLocaleString('en-US');
const log = (line: string) => console.log(line);

try {
  const source = await open('source', true);
  let start = performance.now();
  const rows = await generateShop(source, total);
  log(`data set: ${fmt(rows)} rows in 12 tables + 1 pivot, generated in ${since(start).toFixed(1)} s`);
  const roots = Array.from({ length: 10 }, (_, i) => ({ entity: Region, key: i + 1 }));

  // warm caches once, then measure
  await exportGraph(roots, { em: source.em.fork(), format: 'ndjson', to: join(dir, 'warm.ndjson') });
  const copy = await copyOut(cluster.url('source'));
  const file = join(dir, 'graph.ndjson');
  start = performance.now();
  const exported = await exportGraph(roots, { em: source.em.fork(), format: 'ndjson', to: file });
  const exportSeconds = since(start);
  log(`export:  ${fmt(exported.rows)} rows in ${exportSeconds.toFixed(2)} s = ${fmt(rate(exported.rows, exportSeconds))} rows/s, ` +
    `${exported.statements} statements, ${(statSync(file).size / 1e6).toFixed(0)} MB NDJSON`);
  log(`COPY TO: ${fmt(copy.rows)} rows in ${copy.seconds.toFixed(2)} s = ${fmt(rate(copy.rows, copy.seconds))} rows/s`);

  const naive = await naiveWalk(source, EntitySync.of(source).graph, { entity: 'Region', id: 1 }, 15);
  log(`naive walk: ${fmt(naive.rows)} rows in ${naive.seconds.toFixed(1)} s (${fmt(naive.queries)} queries) = ${fmt(rate(naive.rows, naive.seconds))} rows/s`);

  const target = await open('target', true);
  start = performance.now();
  const imported = await importGraph(file, { em: target.em.fork() });
  const importSeconds = since(start);
  log(`import:  ${fmt(imported.rows)} rows in ${importSeconds.toFixed(2)} s = ${fmt(rate(imported.rows, importSeconds))} rows/s, ${imported.statements} statements`);
  await target.close();

  const copyTarget = await open('copy_target', true);
  await copyTarget.close();
  const copyInSeconds = await copyIn(cluster.url('copy_target'), copy.dump);
  log(`COPY FROM: ${fmt(copy.rows)} rows in ${copyInSeconds.toFixed(2)} s = ${fmt(rate(copy.rows, copyInSeconds))} rows/s`);

  const persistRows = Math.min(20_000, Math.round(total / 50));
  const persistSeconds = await persistFlush(source, persistRows, 10_000_000);
  log(`persist/flush: ${fmt(persistRows)} rows in ${persistSeconds.toFixed(2)} s = ${fmt(rate(persistRows, persistSeconds))} rows/s`);
  await source.close();

  const worker = fileURLToPath(new URL('./worker.js', import.meta.url));
  const inChild = (args: string[]) => JSON.parse(execFileSync(process.execPath,
    [worker, ...args], { encoding: 'utf8', maxBuffer: 1 << 20 }).trim().split('\n').pop()!) as
    { rows: number; seconds: number; maxRssMb: number };
  const exportMemory = inChild(['export', cluster.url('source'), join(dir, 'child.ndjson')]);
  await (await open('memory_target', true)).close();
  const importMemory = inChild(['import', cluster.url('memory_target'), join(dir, 'child.ndjson')]);
  log(`peak memory (own process, max RSS): export ${exportMemory.maxRssMb.toFixed(0)} MB, import ${importMemory.maxRssMb.toFixed(0)} MB`);

  const exportRate = rate(exported.rows, exportSeconds);
  const importRate = rate(imported.rows, importSeconds);
  const results: [string, string, string, boolean][] = [
    ['export vs COPY TO', `${((exportRate / rate(copy.rows, copy.seconds)) * 100).toFixed(0)}%`, '>= 40%', exportRate / rate(copy.rows, copy.seconds) >= 0.4],
    ['export vs naive walk', `${(exportRate / rate(naive.rows, naive.seconds)).toFixed(0)}x`, '>= 20x', exportRate / rate(naive.rows, naive.seconds) >= 20],
    ['import vs COPY FROM', `${((importRate / rate(copy.rows, copyInSeconds)) * 100).toFixed(0)}%`, '>= 25%', importRate / rate(copy.rows, copyInSeconds) >= 0.25],
    ['import vs persist/flush', `${(importRate / rate(persistRows, persistSeconds)).toFixed(0)}x`, '>= 5x', importRate / rate(persistRows, persistSeconds) >= 5],
    ['peak memory, NDJSON export', `${exportMemory.maxRssMb.toFixed(0)} MB`, '< 300 MB', exportMemory.maxRssMb < 300],
    ['peak memory, NDJSON import', `${importMemory.maxRssMb.toFixed(0)} MB`, '< 300 MB', importMemory.maxRssMb < 300],
  ];
  log('');
  log(`${'figure'.padEnd(28)} ${'measured'.padStart(9)}  ${'target'.padEnd(9)} met`);
  for (const [name, value, goal, met] of results) log(`${name.padEnd(28)} ${value.padStart(9)}  ${goal.padEnd(9)} ${met ? 'yes' : 'NO'}`);
} finally {
  cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
