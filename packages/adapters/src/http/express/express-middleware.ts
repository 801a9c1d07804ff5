import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpHandler } from '../http-handler.js';
import { isUnderPrefix, toNodeListener } from '../node/node-listener.js';

/** The parts of Express's request this middleware reads (Express 4 and 5 both have them). */
export interface ExpressRequest extends IncomingMessage {
  originalUrl?: string;
  /** Set by a body parser that ran first (express.json(), express.raw()...). */
  body?: unknown;
}

/** An Express middleware: `app.use(toExpressMiddleware(handler))`. */
export type ExpressMiddleware = (request: ExpressRequest, response: ServerResponse, next: (error?: unknown) => void) => void;

// A body parser that ran before this middleware consumed the stream: hand its result to the Fetch request instead.
function keepParsedBody(request: ExpressRequest & { rawBody?: Buffer }): void {
  if (!request.readableEnded || request.body === undefined || request.rawBody) return;
  const { body } = request;
  request.rawBody = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body ?? null));
}

/**
 * Serves `handler` in Express under the handler's prefix: `app.use(toExpressMiddleware(handler))`.
 * Requests outside the prefix go on to the next middleware. Mount it before body parsers (or
 * anywhere: a body a parser already read is passed on as it parsed it). Streaming, backpressure
 * and client disconnects behave as with `toNodeListener`.
 */
export function toExpressMiddleware(handler: HttpHandler): ExpressMiddleware {
  const listener = toNodeListener(handler);
  return (request, response, next) => {
    const url = request.originalUrl ?? request.url ?? '/';
    if (!isUnderPrefix(url.split('?')[0]!, handler.prefix)) {
      next();
      return;
    }
    // Express strips the mount path of app.use('/x', ...) from url; the handler routes on the full path
    request.url = url;
    keepParsedBody(request);
    listener(request, response).catch(next);
  };
}
