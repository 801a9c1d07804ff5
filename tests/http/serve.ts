// Serves one Fetch handler on 127.0.0.1 (port 0) through each binding, so that one suite runs on all three.
import { toExpressMiddleware } from '@entity-sync/adapters/http/express';
import { toFastifyPlugin } from '@entity-sync/adapters/http/fastify';
import { toNodeListener } from '@entity-sync/adapters/http/node';
import type { HttpHandler } from '@entity-sync/adapters/http';
import express from 'express';
import Fastify from 'fastify';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Binding = 'node' | 'express' | 'fastify';
export const BINDINGS: Binding[] = ['node', 'express', 'fastify'];

/** A running server: its base URL (no trailing slash) and how to stop it. */
export interface Served {
  url: string;
  /** Ends every connection at once (a server that goes away) and stops listening. */
  close(): Promise<void>;
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function closing(server: Server): () => Promise<void> {
  return () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

/** Serves `handler` through `binding`; Express and Fastify apps also answer `GET /outside` themselves, and Express runs express.json() first. */
export async function serve(handler: HttpHandler, binding: Binding): Promise<Served> {
  if (binding === 'node') {
    const server = createServer(toNodeListener(handler));
    return { url: await listen(server), close: closing(server) };
  }
  if (binding === 'express') {
    const app = express();
    // a body parser before the middleware: the handler must still see the body
    app.use(express.json());
    app.get('/outside', (_request, response) => { response.send('the app'); });
    app.use(toExpressMiddleware(handler));
    const server = createServer(app);
    return { url: await listen(server), close: closing(server) };
  }
  const app = Fastify({ forceCloseConnections: true });
  app.get('/outside', async () => 'the app');
  await app.register(toFastifyPlugin(handler));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url: url.replace('localhost', '127.0.0.1'), close: () => app.close() };
}
