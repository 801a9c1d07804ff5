import type { FastifyPluginAsync, RouteHandlerMethod } from 'fastify';
import type { HttpHandler } from '../http-handler.js';
import { toNodeListener } from '../node/node-listener.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * A Fastify plugin that serves `handler` under the handler's prefix:
 * `await app.register(toFastifyPlugin(handler))` (register it without a `prefix` option: the
 * handler's own prefix is used). Inside the plugin Fastify's body parsers are switched off, so the
 * request body reaches the handler as the raw stream; the response is written by the handler
 * (reply.hijack), streamed with backpressure, and a client disconnect cancels it as with `toNodeListener`.
 */
export function toFastifyPlugin(handler: HttpHandler): FastifyPluginAsync {
  const listener = toNodeListener(handler);
  return async (fastify) => {
    // encapsulated: the parsers of the rest of the app stay as they are
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const serve: RouteHandlerMethod = async (request, reply) => {
      reply.hijack();
      await listener(request.raw, reply.raw);
    };
    fastify.route({ method: [...METHODS], url: handler.prefix || '/', handler: serve });
    fastify.route({ method: [...METHODS], url: `${handler.prefix}/*`, handler: serve });
  };
}
