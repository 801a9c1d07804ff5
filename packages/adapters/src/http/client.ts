import { HttpError, OperationError, OptionError } from '@entity-sync/core';

/** Options of `httpGetLines` and `httpGetBytes`. */
export interface HttpGetOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Stops the request and the reading (OPERATION_ABORTED). */
  signal?: AbortSignal;
  /** Added to the URL's query; arrays repeat the parameter, `undefined` values are left out. */
  query?: Record<string, string | number | boolean | readonly string[] | undefined>;
  /** More request headers. */
  headers?: Record<string, string>;
  /** Told of the response's status and headers before its body is read (a fingerprint header, say). */
  onResponse?: (response: { status: number; headers: Headers }) => void;
}

function urlWithQuery(url: string | URL, query: HttpGetOptions['query']): URL {
  if (!URL.canParse(String(url)) || !/^https?:$/.test(new URL(String(url)).protocol)) {
    throw OptionError.invalidArgument('httpGetLines', 'url', url, 'an absolute http:// or https:// URL');
  }
  const target = new URL(String(url));
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) target.searchParams.append(key, String(item));
  }
  return target;
}

const aborted = (signal: AbortSignal | undefined) => signal?.aborted ? OperationError.aborted(signal.reason) : undefined;

// The error a non-2xx answer stands for: the server's typed error when it sent error JSON.
async function answerError(url: URL, response: Response): Promise<HttpError> {
  const text = await response.text().catch((error: unknown) => `(the body could not be read: ${(error as Error).message})`);
  try {
    const { error } = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; info?: unknown } };
    if (error && typeof error.code === 'string' && typeof error.message === 'string') {
      return HttpError.remote(url, response.status, error.code, error.message,
        error.info && typeof error.info === 'object' ? error.info as Record<string, unknown> : {});
    }
  } catch {
    // not JSON: reported below with the start of the body
  }
  return HttpError.statusFailed(url, response.status, text.slice(0, 200));
}

/**
 * GETs `url` and yields the body's byte chunks as they arrive. A non-2xx answer is the server's
 * typed error (its code and message); a server that cannot be reached, or that goes away before the
 * body's end, is TRANSPORT_UNAVAILABLE. Whether something read before a broken-off end may be
 * used is the caller's decision.
 */
export async function* httpGetBytes(url: string | URL, options: HttpGetOptions = {}): AsyncGenerator<Uint8Array> {
  const target = urlWithQuery(url, options.query);
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(target, { headers, signal: options.signal });
  } catch (error) {
    throw aborted(options.signal) ?? HttpError.unreachable(target, error);
  }
  if (!response.ok) throw await answerError(target, response);
  options.onResponse?.({ status: response.status, headers: response.headers });
  if (!response.body) return;
  const reader = response.body.getReader();
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw aborted(options.signal) ?? HttpError.cutShort(target, error);
      }
      if (chunk.done) return;
      yield chunk.value;
    }
  } finally {
    // a consumer that stops early (break, a thrown error) closes the connection instead of leaving it open
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * GETs an NDJSON endpoint and yields its lines (without the newline) as they arrive, read
 * incrementally: nothing is buffered beyond the line being read. Errors as `httpGetBytes`.
 *
 * @example
 * for await (const line of httpGetLines('https://source.example/entity-sync/export', { token, query: { models: 'Country' } })) {
 *   const row = JSON.parse(line);
 * }
 */
export async function* httpGetLines(url: string | URL, options: HttpGetOptions = {}): AsyncGenerator<string> {
  for await (const batch of httpGetLineBatches(url, options)) yield* batch;
}

/**
 * `httpGetLines` a batch at a time: the complete non-empty lines of what arrived, as soon as it
 * arrived, so that a consumer with many short lines does not pay a step per line.
 */
export async function* httpGetLineBatches(url: string | URL, options: HttpGetOptions = {}): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let rest = '';
  for await (const chunk of httpGetBytes(url, options)) {
    const text = rest + decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    rest = lines.pop()!;
    const batch: string[] = [];
    for (const line of lines) {
      const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
      if (trimmed) batch.push(trimmed);
    }
    if (batch.length) yield batch;
  }
  rest += decoder.decode();
  if (rest.trim()) yield [rest.endsWith('\r') ? rest.slice(0, -1) : rest];
}
