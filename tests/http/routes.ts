// Routes the HTTP tests serve: each records that it ran, so that a refused request can be shown never to reach it.
import { bytes, ndjson, ndjsonBatches, type HttpRoutes, type Principal } from '@entity-sync/adapters/http';
import { OptionError, SchemaError } from '@entity-sync/core';
import { z } from 'zod';

/** What the routes saw: the names of the routes that ran, and the state of the streaming producers. */
export class RouteLog {
  ran: string[] = [];
  principals: (Principal | null)[] = [];
  produced = 0;
  producerFinished = false;
  signalAborted = false;
}

export const FILE = new Uint8Array(300_000).map((_, i) => (i * 31) % 251);

/** A producer of `count` rows of `size` characters (Infinity: until stopped) that counts what it made and records that its finally ran. */
async function* rows(log: RouteLog, count: number, size: number) {
  try {
    for (let i = 0; i < count; i++) {
      log.produced++;
      yield { i, pad: 'x'.repeat(size) };
      // a producer that waits on I/O between rows, like a database cursor
      if (i % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    log.producerFinished = true;
  }
}

/** `rows` in pages of `page` rows, as a database producer hands them on. */
async function* pages(log: RouteLog, count: number, size: number, page: number) {
  let batch: object[] = [];
  for await (const row of rows(log, count, size)) {
    batch.push(row);
    if (batch.length === page) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

export function testRoutes(log: RouteLog): HttpRoutes {
  return (route) => {
    route.get('/echo', { right: 'read', query: z.object({ name: z.string().min(1), n: z.coerce.number().int().optional() }) },
      async ({ query, principal }) => {
        log.ran.push('echo');
        log.principals.push(principal);
        return Response.json({ name: query.name, n: query.n ?? null, subject: principal?.subject ?? null });
      });
    route.post('/items', { right: 'write', body: z.object({ items: z.array(z.object({ code: z.string() })) }) }, async ({ body }) => {
      log.ran.push('items');
      return Response.json({ codes: body.items.map((item) => item.code) });
    });
    route.get('/rows', { right: 'read', query: z.object({ count: z.coerce.number().optional(), size: z.coerce.number().default(10) }) },
      async ({ query }) => {
        log.ran.push('rows');
        return ndjson(rows(log, query.count ?? Infinity, query.size));
      });
    route.get('/pages', { right: 'read', query: z.object({ count: z.coerce.number().optional(), size: z.coerce.number().default(10), page: z.coerce.number().default(7) }) },
      async ({ query }) => {
        log.ran.push('pages');
        return ndjsonBatches(pages(log, query.count ?? Infinity, query.size, query.page));
      });
    route.get('/files/:hash', { right: 'read', params: z.object({ hash: z.string().regex(/^[0-9a-f]{8}$/, 'must be 8 hex digits') }) },
      async () => {
        log.ran.push('file');
        return bytes([FILE.subarray(0, 100_000), FILE.subarray(100_000)], { contentLength: FILE.byteLength });
      });
    route.get('/wait', { right: 'read' }, async ({ signal }) => {
      log.ran.push('wait');
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      log.signalAborted = true;
      return new Response('aborted');
    });
    route.get('/schema-mismatch', { right: 'read' }, async () => {
      throw SchemaError.tableMissing('Country', 'country', 'public');
    });
    route.get('/bad-option', { right: 'read' }, async () => {
      throw OptionError.invalid('exportRows', 'models', 42, 'a list of entity names');
    });
    route.get('/crash', { right: 'read' }, async () => {
      throw new Error('secret detail at /srv/app.js:12');
    });
    route.get('/health', { public: true }, async () => Response.json({ ok: true }));
  };
}
