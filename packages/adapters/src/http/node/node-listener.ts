import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { HttpHandler } from '../http-handler.js';

/** A `node:http` request listener, as `http.createServer` takes it. */
export type NodeListener = (request: IncomingMessage, response: ServerResponse) => Promise<void>;

/**
 * Serves `handler` as a `node:http` request listener: the request body is passed as a stream,
 * the response streamed with backpressure (a write that fills the socket waits for `drain`), and
 * a client that disconnects aborts `request.signal` and cancels the response body, so that a
 * streaming producer's `return()` runs. Requests outside the handler's prefix get its 404 JSON.
 *
 * @example
 * http.createServer(toNodeListener(handler)).listen(8080, '127.0.0.1');
 */
export function toNodeListener(handler: HttpHandler): NodeListener {
  // overrideGlobalObjects: false keeps the app's global Request and Response untouched
  const listener = getRequestListener((request) => handler(request), { overrideGlobalObjects: false });
  return async (request, response) => {
    await listener(request, response);
  };
}

/** Whether `path` lies under `prefix` ('' holds every path). */
export function isUnderPrefix(path: string, prefix: string): boolean {
  return prefix === '' || path === prefix || path.startsWith(`${prefix}/`);
}
