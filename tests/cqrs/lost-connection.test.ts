// A pool that cannot hand out a connection in time is an outage to wait out, whichever pool
// MikroORM runs on: knex's on 6, pg-pool's on 7 (whose errors this test provokes).
import { isLostConnection } from '@entity-sync/core';
import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('lost connections');

test("pg-pool's timeouts (a server that accepts and never answers) count as lost connections: connecting, and waiting for the pool", async () => {
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  // one connection at the most: the first acquire times out connecting, the second waiting for the first
  const pool = new pg.Pool({ host: '127.0.0.1', port, user: 'nobody', database: 'none', connectionTimeoutMillis: 300, max: 1 });
  try {
    const errors = await Promise.all([pool.connect(), pool.connect()].map((acquire) => acquire.then(() => undefined, (reason: Error) => reason)));
    for (const error of errors) {
      assert.ok(error, 'an acquire did not time out');
      assert.ok(isLostConnection(error), `not taken for a lost connection: ${error!.message}`);
    }
  } finally {
    await pool.end();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test('an error of the statement is not a lost connection', () => {
  assert.not.ok(isLostConnection(Object.assign(new Error('duplicate key value violates unique constraint "x_pkey"'), { code: '23505' })));
});

test.run();
