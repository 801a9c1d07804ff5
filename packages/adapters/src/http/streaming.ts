/** Options of the streaming responses. */
export interface StreamResponseOptions {
  /** The status (default 200). */
  status?: number;
  /** Headers added to the response (a fingerprint, a content hash...). */
  headers?: ConstructorParameters<typeof Headers>[0];
}

/** Options of `bytes`. */
export interface BytesResponseOptions extends StreamResponseOptions {
  /** The content type (default `application/octet-stream`). */
  contentType?: string;
  /** The length in bytes, when known: sent as Content-Length instead of chunked encoding. */
  contentLength?: number;
}

// Chunks are gathered up to this size while the producer has more at hand, so that a row is not one socket write.
const CHUNK_BYTES = 16 * 1024;
const PENDING = Symbol('pending');

type Chunks = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/**
 * A byte stream that advances `source` only as its reader reads (highWaterMark 0: nothing is
 * produced ahead of demand), and calls the iterator's `return()` when the reader cancels (the
 * client went away), so that the query behind it stops and its `finally` blocks run.
 */
function pullStream(source: Chunks): ReadableStream<Uint8Array> {
  const iterator = Symbol.asyncIterator in source
    ? (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
    : (source as Iterable<Uint8Array>)[Symbol.iterator]();
  let next: Promise<IteratorResult<Uint8Array>> | undefined;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const parts: Uint8Array[] = [];
      let size = 0;
      for (;;) {
        if (!next) {
          next = Promise.resolve(iterator.next());
          // a rejection is observed by the await below on this pull or the next; after a cancel it is moot
          next.catch(() => undefined);
        }
        // a producer with more at hand (settled within a tick) fills the chunk; one that waits on I/O gets what is ready sent first
        const result = parts.length === 0 ? await next : await Promise.race([next, new Promise<typeof PENDING>((resolve) => setImmediate(resolve, PENDING))]);
        if (result === PENDING) break;
        next = undefined;
        if (result.done) {
          if (size > 0) controller.enqueue(concat(parts, size));
          controller.close();
          return;
        }
        parts.push(result.value);
        size += result.value.byteLength;
        if (size >= CHUNK_BYTES) break;
      }
      controller.enqueue(concat(parts, size));
    },
    async cancel() {
      await iterator.return?.();
    },
  }, { highWaterMark: 0 });
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const joined = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}

// One line's text: a string as it is, an object serialized; a newline inside it would split it.
function lineText(line: string | object, caller: string): string {
  const text = typeof line === 'string' ? line : JSON.stringify(line);
  if (text.includes('\n')) throw new TypeError(`${caller}(): a line contains a newline; pass objects (serialized here) or single-line JSON strings`);
  return text;
}

async function* ndjsonLines(lines: AsyncIterable<string | object> | Iterable<string | object>): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for await (const line of lines) yield encoder.encode(`${lineText(line, 'ndjson')}\n`);
}

async function* ndjsonBatchLines(batches: AsyncIterable<readonly (string | object)[]> | Iterable<readonly (string | object)[]>): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for await (const batch of batches) {
    if (!batch.length) continue;
    let text = '';
    for (const line of batch) text += `${lineText(line, 'ndjsonBatches')}\n`;
    yield encoder.encode(text);
  }
}

function ndjsonResponse(body: AsyncGenerator<Uint8Array>, options: StreamResponseOptions): Response {
  const headers = new Headers(options.headers);
  headers.set('content-type', 'application/x-ndjson; charset=utf-8');
  headers.set('cache-control', 'no-store');
  return new Response(pullStream(body), { status: options.status ?? 200, headers });
}

/**
 * A streaming NDJSON response (`application/x-ndjson`): one line per item, objects written with
 * JSON.stringify, strings sent as they are (already-serialized JSON). `lines` is advanced only as
 * the client reads (backpressure), and its `return()` is called when the client disconnects.
 * A producer that throws mid-stream breaks the response off (the client sees it incomplete, never
 * a clean end).
 *
 * @example
 * route.get('/export', { right: 'read' }, async ({ signal }) => ndjson(rowsOf(query, signal)));
 */
export function ndjson(lines: AsyncIterable<string | object> | Iterable<string | object>, options: StreamResponseOptions = {}): Response {
  return ndjsonResponse(ndjsonLines(lines), options);
}

/**
 * `ndjson` for a producer that has its lines in batches (a page of rows at a time): each batch is
 * encoded and handed on at once, which costs far less per line than one item each.
 *
 * @example
 * route.get('/export', { right: 'read' }, async ({ signal }) => ndjsonBatches(pagesOf(query, signal)));
 */
export function ndjsonBatches(batches: AsyncIterable<readonly (string | object)[]> | Iterable<readonly (string | object)[]>, options: StreamResponseOptions = {}): Response {
  return ndjsonResponse(ndjsonBatchLines(batches), options);
}

/**
 * A streaming binary response (a file): `body` is a ReadableStream, a Node Readable, any
 * (async) iterable of byte chunks, or the bytes themselves; streamed with the same backpressure
 * and cancellation as `ndjson`.
 */
export function bytes(body: ReadableStream<Uint8Array> | Chunks | Uint8Array, options: BytesResponseOptions = {}): Response {
  const headers = new Headers(options.headers);
  headers.set('content-type', options.contentType ?? 'application/octet-stream');
  if (options.contentLength !== undefined) headers.set('content-length', String(options.contentLength));
  const stream = body instanceof ReadableStream ? body : pullStream(body instanceof Uint8Array ? [body] : body);
  return new Response(stream, { status: options.status ?? 200, headers });
}
