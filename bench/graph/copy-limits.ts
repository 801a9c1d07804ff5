import { once } from 'node:events';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { since } from './measure.js';

/** What `COPY ... TO STDOUT` produced: each table's text, as the load limit's input. */
export interface CopyDump {
  tables: Map<string, Buffer[]>;
  rows: number;
  bytes: number;
  seconds: number;
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function countLines(chunks: Buffer[]): number {
  let lines = 0;
  for (const chunk of chunks) for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
  return lines;
}

/**
 * The read limit: `COPY (SELECT * FROM table) TO STDOUT` of every table, in one transaction as
 * the export runs. Chunks are only kept, so the time is the server's and the wire's; rows are
 * counted after the clock stops.
 */
export async function copyOut(url: string, tables: string[]): Promise<CopyDump> {
  return withClient(url, async (client) => {
    const dump = new Map<string, Buffer[]>();
    const start = performance.now();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    for (const table of tables) {
      const chunks: Buffer[] = [];
      for await (const chunk of client.query(copyTo(`COPY (SELECT * FROM ${table}) TO STDOUT`))) chunks.push(chunk as Buffer);
      dump.set(table, chunks);
    }
    await client.query('COMMIT');
    const seconds = since(start);
    let rows = 0;
    let bytes = 0;
    for (const chunks of dump.values()) {
      rows += countLines(chunks);
      for (const chunk of chunks) bytes += chunk.length;
    }
    return { tables: dump, rows, bytes, seconds };
  });
}

/**
 * The write limit: `COPY ... FROM STDIN` of the dumped rows into empty tables with the same
 * keys, indexes and foreign keys, in one transaction (the deferrable key is checked at commit).
 */
export async function copyIn(url: string, dump: CopyDump): Promise<number> {
  return withClient(url, async (client) => {
    const start = performance.now();
    await client.query('BEGIN');
    for (const [table, chunks] of dump.tables) {
      const stream = client.query(copyFrom(`COPY ${table} FROM STDIN`));
      const finished = once(stream, 'finish');
      for (const chunk of chunks) if (!stream.write(chunk)) await once(stream, 'drain');
      stream.end();
      await finished;
    }
    await client.query('COMMIT');
    return since(start);
  });
}
