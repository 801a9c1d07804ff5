// One export or import in a process of its own, so that its peak memory is its own.
// Usage: worker.js export|import <database url> <file>
import { EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { Region, shopEntities } from './entities.js';

const [mode, url, file] = process.argv.slice(2);
const orm = await MikroORM.init({ driver: PostgreSqlDriver, clientUrl: url, entities: shopEntities, extensions: [EntitySync] });
const start = performance.now();
let rows: number;
if (mode === 'export') {
  const roots = Array.from({ length: 10 }, (_, i) => ({ entity: Region, key: i + 1 }));
  rows = (await exportGraph(roots, { em: orm.em.fork(), format: 'ndjson', to: file! })).rows;
} else {
  rows = (await importGraph(file!, { em: orm.em.fork() })).rows;
}
const seconds = (performance.now() - start) / 1000;
await orm.close();
console.log(JSON.stringify({ rows, seconds, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
