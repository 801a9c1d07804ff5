import 'reflect-metadata';
import { diffMaster, diffReplica, diffSync, EntitySync, installOutbox, installReplica, ReplicaApplier } from '@entity-sync/adapters/mikro-orm';
import type { CqrsMessage, Transport } from '@entity-sync/core';
import { testBackends, type TestBackend } from '@entity-sync/testing';
import type { MikroORM } from '@mikro-orm/core';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Author, AuthorRef, libraryEntities } from '../../examples/library/src/index.js';
import { collect, from, masterRevisions, rejection } from './repair-support.js';

// diffSync publishes outside any transaction: a slow broker must not hold one open on the master.

/**
 * Whether a transaction is open on the master's database while this runs. Real PostgreSQL: a
 * session of another connection idles in a transaction. PGlite has one session for everyone,
 * whose transaction status the server reports after each statement.
 */
async function transactionOpen(backend: TestBackend, orm: MikroORM): Promise<boolean> {
  if (backend.name === 'postgres') {
    const [row] = await orm.em.getConnection().execute<{ n: number }[]>("select count(*)::int as n from pg_stat_activity " +
      "where datname = current_database() and pid <> pg_backend_pid() and state like 'idle in transaction%'");
    return row!.n > 0;
  }
  // the backend's instance, where the PGlite driver of MikroORM 6 (`connection.pglite`) or 7 (`pglite`) takes it
  type Given = () => Promise<{ isInTransaction(): boolean }> | { isInTransaction(): boolean };
  const options = orm.config.get('driverOptions') as { connection?: { pglite: Given }; pglite?: Given };
  const pglite = await (options.connection ?? options).pglite!();
  return pglite.isInTransaction();
}

/** A transport that records, and runs `check` before taking each batch. */
function checkingTransport(check: (messages: CqrsMessage[]) => Promise<void>): Transport & { sent: CqrsMessage[] } {
  const sent: CqrsMessage[] = [];
  return {
    sent,
    async publish(messages) {
      await check(messages);
      sent.push(...structuredClone(messages));
    },
    async subscribe() {
      return { stop: async () => undefined };
    },
    async close() {},
  };
}

/**
 * A master of seven authors the replica never received, and a replica row the master never had
 * at revision 50 (ahead of anything the master counted); the report of their diff.
 */
async function withReport(backend: TestBackend, work: (master: MikroORM, report: string[], tempDir: string) => Promise<void>): Promise<void> {
  const master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
  const replica = await backend.createOrm({ entities: [AuthorRef], extensions: [EntitySync] });
  const tempDir = mkdtempSync(join(tmpdir(), 'entity-sync-diff-sync-test-'));
  try {
    await installOutbox(master.em.fork());
    await installReplica(replica.em.fork());
    const em = master.em.fork();
    for (let i = 1; i <= 7; i++) em.create(Author, { id: i, name: `Author ${i}`, email: `a${i}@example.org` });
    await em.flush();
    await new ReplicaApplier(replica.em.fork()).apply({ version: 1, id: 'ahead', cqrsId: 'author', operation: 'save', key: [9001], revision: 50,
      state: { id: 9001, name: 'Only here', email: 'x@example.org' }, createdAt: new Date().toISOString() });
    const report = await collect(diffReplica(replica.em.fork(), from(await collect(diffMaster(master.em.fork(), { cqrsId: 'author' })))));
    assert.equal(JSON.parse(report.at(-1)!), { end: true, missing: 7, stale: 0, extra: 1, changed: 0 });
    await work(master, report, tempDir);
  } finally {
    await master.close();
    await replica.close();
    rmSync(tempDir, { recursive: true, force: true });
  }
}

for (const backend of testBackends()) {
  const test = suite(`CQRS diffSync publishes outside transactions [${backend.name}]`);

  test('no transaction is open on the master while a page is published; revisions ahead are raised before the first publish', async () => {
    await withReport(backend, async (master, report, tempDir) => {
      const seen: { size: number; open: boolean; raised?: number; files: number }[] = [];
      const transport = checkingTransport(async (messages) => {
        const open = await transactionOpen(backend, master);
        // on PGlite another query would wait for the one connection while a transaction holds it
        const raised = open ? undefined : (await masterRevisions(master, 'author')).get('[9001]');
        seen.push({ size: messages.length, open, raised, files: readdirSync(tempDir).length });
      });
      assert.equal(await diffSync(master.em.fork(), transport, from(report), { batchSize: 3, tempDir }), { republished: 7, deleted: 1 });
      assert.equal(seen.map((page) => page.size), [3, 3, 2], 'three pages');
      assert.equal(seen.map((page) => page.open), [false, false, false], 'no transaction was open while publishing');
      assert.equal(seen.map((page) => page.raised), [50, 50, 50], 'the master counted the replica\'s revision before the first page went out');
      assert.ok(seen.every((page) => page.files > 0), 'the report waits in the temporary directory between pages');
      assert.equal(readdirSync(tempDir), [], 'and is removed afterwards');
      const ahead = transport.sent.find((message) => message.key[0] === 9001)!;
      assert.equal([ahead.operation, ahead.revision, ahead.state], ['sync', 50, null], 'the delete goes out at the replica\'s revision');
      assert.ok(transport.sent.filter((message) => message.key[0] !== 9001).every((message) => message.revision === 1 && message.state !== null));
    });
  });

  test('a publish that fails stops the run with its error, and leaves no transaction and no file behind', async () => {
    await withReport(backend, async (master, report, tempDir) => {
      let calls = 0;
      const transport = checkingTransport(async () => {
        if (++calls === 2) throw new Error('the broker went away');
      });
      const error = await rejection(diffSync(master.em.fork(), transport, from(report), { batchSize: 3, tempDir }));
      assert.is(error.message, 'the broker went away');
      assert.is(transport.sent.length, 3, 'the first page went out');
      assert.not.ok(await transactionOpen(backend, master));
      assert.equal(readdirSync(tempDir), []);
      const refused = await rejection(diffSync(master.em.fork(), transport, from(report.slice(0, -1)), { tempDir }));
      assert.is(refused.code, 'CQRS_DUMP_INVALID');
      assert.equal(readdirSync(tempDir), [], 'a refused report leaves no file either');
      const unwritable = await rejection(diffSync(master.em.fork(), transport, from(report), { tempDir: join(tempDir, 'missing') }));
      assert.is(unwritable.code, 'FILE_NOT_WRITABLE', unwritable.message);
      assert.is(transport.sent.length, 3);
    });
  });

  test.run();
}
