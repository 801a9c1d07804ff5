import type { RelationGraph } from '@entity-sync/core';
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { once } from 'node:events';
import { shopTables } from './generate.js';

/** Seconds since `start` (a performance.now() value). */
export const since = (start: number) => (performance.now() - start) / 1000;

/** The physical limit for reads: `COPY (SELECT ...) TO STDOUT` of every table, text kept in memory for the load baseline. */
export async function copyOut(url: string): Promise<{ seconds: number; rows: number; dump: Map<string, Buffer[]> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const dump = new Map<string, Buffer[]>();
  let rows = 0;
  const start = performance.now();
  for (const table of shopTables) {
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(`COPY (SELECT * FROM ${table}) TO STDOUT`))) chunks.push(chunk as Buffer);
    dump.set(table, chunks);
    for (const chunk of chunks) for (const byte of chunk) if (byte === 10) rows += 1;
  }
  const seconds = since(start);
  await client.end();
  return { seconds, rows, dump };
}

/** The physical limit for writes: `COPY FROM STDIN` of the same rows into empty tables with the same keys and constraints. */
export async function copyIn(url: string, dump: Map<string, Buffer[]>): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const start = performance.now();
  await client.query('BEGIN');
  for (const table of shopTables) {
    const stream = client.query(copyFrom(`COPY ${table} FROM STDIN`));
    for (const chunk of dump.get(table)!) if (!stream.write(chunk)) await once(stream, 'drain');
    stream.end();
    await once(stream, 'finish');
  }
  await client.query('COMMIT');
  const seconds = since(start);
  await client.end();
  return seconds;
}

/**
 * The naive way to export a graph: load one object, then each related object or collection
 * with its own query, recursively (what a hand-written walker or gestore does). Stops after
 * `seconds` and reports the rows it reached.
 */
export async function naiveWalk(orm: MikroORM, graph: RelationGraph, root: { entity: string; id: number }, seconds: number) {
  const seen = new Set<string>();
  const owned = new Set<string>();
  const queue: { entity: string; id: unknown; owns: boolean }[] = [{ ...root, owns: true }];
  let em: EntityManager = orm.em.fork();
  let queries = 0;
  const start = performance.now();
  while (queue.length && since(start) < seconds) {
    const { entity, id, owns } = queue.shift()!;
    const key = `${entity}:${JSON.stringify(id)}`;
    if (seen.has(key) && (!owns || owned.has(key))) continue;
    seen.add(key);
    if (owns) owned.add(key);
    const row = await em.findOne(entity, id as never);
    queries += 1;
    if (!row) continue;
    for (const edge of graph.needs(entity)) {
      const target = (row as Record<string, unknown>)[edge.property!] as { id?: unknown } | null | undefined;
      const targetId = target && (target as Record<string, unknown>)[graph.node(edge.to).primaryKeyProperties[0]!];
      if (targetId !== undefined && targetId !== null) queue.push({ entity: edge.to, id: targetId, owns: false });
    }
    if (!owns) continue;
    for (const edge of graph.dependents(entity)) {
      const owner = graph.edge(edge.inverse);
      const children = await em.find(edge.to, { [owner.property!]: id } as never);
      queries += 1;
      for (const child of children) {
        const node = graph.node(edge.to);
        const childId = node.primaryKeyProperties.length === 1
          ? (child as Record<string, unknown>)[node.primaryKeyProperties[0]!]
          : Object.fromEntries(node.primaryKeyProperties.map((p) => [p, (child as Record<string, { id?: unknown }>)[p]?.id ?? (child as Record<string, unknown>)[p]]));
        queue.push({ entity: edge.to, id: childId, owns: true });
      }
    }
    if (seen.size % 2000 === 0) em = orm.em.fork();
  }
  return { rows: seen.size, seconds: since(start), queries };
}

/** MikroORM's own bulk insert: em.create + em.flush in batches of 1000, on order lines of existing orders. */
export async function persistFlush(orm: MikroORM, rows: number, firstId: number): Promise<number> {
  const start = performance.now();
  for (let done = 0; done < rows; done += 1000) {
    const em = orm.em.fork();
    for (let i = done; i < Math.min(rows, done + 1000); i++) {
      em.create('OrderLine', { id: String(firstId + i), order: 1 + (i % 1000), product: 1 + (i % 1000), quantity: 1, amount: '9.99' });
    }
    await em.flush();
  }
  return since(start);
}
