// A PostgreSQL transport whose database restarts: the subscription neither crashes the process nor
// goes deaf; it listens again and wakes on the next NOTIFY.
import { PostgresTransport, pgClient, pgliteClient, type SqlClient } from '@entity-sync/adapters/postgres';
import { PGlite } from '@electric-sql/pglite';
import { CQRS_MESSAGE_VERSION, type CqrsMessage } from '@entity-sync/core';
import { findPostgresBinDir, PostgresCluster } from '@entity-sync/testing';
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { until } from '../support/until.js';

const message = (n: number): CqrsMessage => ({
  version: CQRS_MESSAGE_VERSION, id: `author/${n}`, cqrsId: 'author', operation: 'save', key: [n], revision: 1,
  state: { id: n }, createdAt: new Date().toISOString(),
});


const unit = suite('PostgreSQL transport subscription loop');

unit('a failing query of the subscription is reported and waited out, not an unhandled rejection', async () => {
  const pglite = await PGlite.create();
  const real = pgliteClient(pglite);
  let failuresLeft = 3;
  // the claim query fails three times, as against a database that is away
  const flaky: SqlClient = {
    ...real,
    query: (sql, params) => (sql.startsWith('UPDATE') && sql.includes('attempts = attempts + 1') && failuresLeft-- > 0
      ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'))
      : real.query(sql, params)) as never,
  };
  const reported: [string, number][] = [];
  const transport = new PostgresTransport(flaky, { pollMs: 50, onError: (error, { retryInMs }) => void reported.push([error.message, retryInMs]) });
  try {
    await transport.install();
    const delivered: string[] = [];
    const subscription = await transport.subscribe('search', ['author'], async (m) => void delivered.push(m.id));
    await transport.publish([message(1)]);
    await until('the message, once the database answers', () => delivered.length === 1);
    assert.equal(reported, [['connect ECONNREFUSED 127.0.0.1:5432', 100], ['connect ECONNREFUSED 127.0.0.1:5432', 200], ['connect ECONNREFUSED 127.0.0.1:5432', 400]]);
    assert.is(transport.failures, 3);
    assert.equal(await transport.deadLetters(), [], 'no message spent an attempt on it');
    await subscription.stop();
  } finally {
    await pglite.close();
  }
});

unit.run();

if (process.env.CI === 'true' || findPostgresBinDir()) {
  const test = suite('PostgreSQL transport across a server restart');

  test('after the server restarts, the subscription listens again and a new message wakes it (no poll for a minute)', async () => {
    const cluster = await PostgresCluster.start();
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (line: string) => void warnings.push(line);
    try {
      await cluster.createDatabase('bus');
      const transport = new PostgresTransport(pgClient(new pg.Pool({ connectionString: cluster.url('bus'), max: 4 }), true), { pollMs: 60_000 });
      await transport.install();
      const delivered: string[] = [];
      const subscription = await transport.subscribe('search', ['author'], async (m) => void delivered.push(m.id));
      await transport.publish([message(1)]);
      await until('the first message', () => delivered.length === 1);

      cluster.pause();
      await sleep(1000);
      cluster.resume();
      // the first publish after the restart may meet a connection the server dropped
      let lastError: unknown;
      await until('a publish after the restart', () => transport.publish([message(2)]).then(() => true, (error) => { lastError = error; return false; })).catch((error) => { throw new Error(`${error.message}: ${String(lastError)}`); });
      await until('the message published after the restart', () => delivered.includes('author/2'), 10_000);
      assert.equal(delivered, ['author/1', 'author/2']);
      assert.ok(warnings.some((line) => line.includes('PostgreSQL')), `the broken connection was reported: ${warnings.join(' | ')}`);
      await subscription.stop();
      await transport.close();
    } finally {
      console.warn = warn;
      cluster.stop();
    }
  });

  test.run();
}
