import { createHash } from 'node:crypto';
import { CqrsError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { EntitySync } from '../../extension/entity-sync.js';
import { arrayLiteral, ident, literal, SqlSession } from '../../../internal/pg/sql-session.js';
import { TableGraph, type TableNode } from '../../../internal/pg/table-graph.js';
import { CORRELATION_PREFIX, createSlot, dropSlot, prepareWalCapture, recordCapture, replaceWalCapture, type CaptureMode } from './wal-capture.js';
import { WalRelay } from '../relay/wal-relay.js';
import { MasterMessages } from './master-messages.js';
import { TransactionOrder } from '../relay/transaction-order.js';
import { checkEntityManager } from '../../extension/arguments.js';

// The outbox is written by a trigger on every master table, in the transaction that changes the
// row: nothing can commit without its message, a rolled-back transaction or savepoint takes its
// message with it, and bulk writes that bypass the unit of work (nativeUpdate, insertMany, raw
// SQL) are captured too. Within one transaction a row keeps one outbox entry (its final state)
// and its revision grows once.
// One capture function per master table, with its key expression written in. The revision row
// remembers the transaction that last changed the row and its outbox entry, so that one upsert
// both counts the revision and tells whether this transaction already has an entry to update:
// the outbox needs no index but its primary key. Relays are woken once per transaction.
const captureFunction = (schema: string, name: string, cqrsId: string, keyColumns: string[]) => {
  const keyOf = (row: string) => `jsonb_build_array(${keyColumns.map((column) => `${row}.${ident(column)}`).join(', ')})`;
  const id = literal(cqrsId);
  return `
CREATE OR REPLACE FUNCTION ${schema}.${name}() RETURNS trigger LANGUAGE plpgsql SET search_path = ${schema}, pg_catalog AS $$
DECLARE
  new_state jsonb;
  old_state jsonb;
  row_key jsonb;
  this_tx bigint := txid_current();
  fresh_entry bigint := nextval('entity_sync_outbox_id_seq');
  entry bigint;
  next_revision bigint;
BEGIN
  IF TG_OP = 'DELETE' THEN
    old_state := to_jsonb(OLD);
    row_key := ${keyOf('OLD')};
  ELSE
    new_state := to_jsonb(NEW);
    row_key := ${keyOf('NEW')};
    IF TG_OP = 'UPDATE' THEN old_state := to_jsonb(OLD); END IF;
  END IF;
  INSERT INTO entity_sync_revision AS r (cqrs_id, key, revision, tx, outbox_id) VALUES (${id}, row_key, 1, this_tx, fresh_entry)
    ON CONFLICT (cqrs_id, key) DO UPDATE SET
      revision = CASE WHEN r.tx = this_tx THEN r.revision ELSE r.revision + 1 END,
      outbox_id = CASE WHEN r.tx = this_tx THEN r.outbox_id ELSE fresh_entry END,
      tx = this_tx
    RETURNING revision, outbox_id INTO next_revision, entry;
  IF entry <> fresh_entry THEN
    -- a later change of the row in the same transaction: one message, with the final state
    UPDATE entity_sync_outbox SET operation = CASE WHEN new_state IS NULL THEN 'delete' ELSE 'save' END, state = new_state
      WHERE id = entry;
    RETURN NULL;
  END IF;
  INSERT INTO entity_sync_outbox (id, tx, cqrs_id, key, operation, revision, state, previous, correlation_id)
    VALUES (fresh_entry, this_tx, ${id}, row_key, CASE WHEN new_state IS NULL THEN 'delete' ELSE 'save' END, next_revision, new_state, old_state,
      nullif(current_setting('entity_sync.correlation_id', true), ''));
  IF current_setting('entity_sync.notified', true) IS DISTINCT FROM '1' THEN
    PERFORM pg_notify('entity_sync_outbox', '');
    PERFORM set_config('entity_sync.notified', '1', true);
  END IF;
  RETURN NULL;
END $$`;
};

/** Options of `installOutbox`. */
export interface InstallOutboxOptions {
  /**
   * How changes are captured. `trigger` (the default, and the only one on PGlite): a trigger on
   * every master table writes the outbox in the writing transaction. `wal`: the relay reads them
   * from a logical replication slot (pgoutput), and the writing transaction does no extra work;
   * needs `wal_level = logical` and a role with the REPLICATION attribute. Switching back to
   * `trigger` moves what the slot holds into the outbox and drops the slot (refused with
   * `CQRS_SLOT_IN_USE` while a relay streams it: stop the relay for the switch).
   */
  capture?: CaptureMode;
}

/**
 * Creates the outbox and revision tables and the capture of every `@Master` entity of the ORM:
 * a trigger on its table, or with `capture: 'wal'` a publication and a replication slot
 * (idempotent: run it at deploy time, like a migration). Returns the CQRS ids captured.
 */
export async function installOutbox(em: EntityManager, options: InstallOutboxOptions = {}): Promise<string[]> {
  checkEntityManager('installOutbox', em, 'installOutbox(orm.em.fork())');
  const wal = options.capture === 'wal';
  const masters = await lockedInstall(em, async (tx, session, captured) => {
    const schema = defaultSchemaOf(tx);
    const sync = EntitySync.forEntityManager(tx);
    await session.run(`SET LOCAL search_path TO ${ident(schema)}`);
    await session.run(`CREATE TABLE IF NOT EXISTS entity_sync_revision (cqrs_id text NOT NULL, key jsonb NOT NULL, revision bigint NOT NULL, ` +
      `tx bigint, outbox_id bigint, PRIMARY KEY (cqrs_id, key))`);
    await session.run(`ALTER TABLE entity_sync_revision ADD COLUMN IF NOT EXISTS tx bigint, ADD COLUMN IF NOT EXISTS outbox_id bigint`);
    await session.run(`CREATE TABLE IF NOT EXISTS entity_sync_outbox (id bigserial PRIMARY KEY, tx bigint NOT NULL, cqrs_id text NOT NULL, ` +
      `key jsonb NOT NULL, operation text NOT NULL, revision bigint NOT NULL, state jsonb, previous jsonb, ` +
      `created_at timestamptz NOT NULL DEFAULT clock_timestamp(), sent_at timestamptz)`);
    await session.run(`ALTER TABLE entity_sync_outbox ADD COLUMN IF NOT EXISTS correlation_id text`);
    // the relay deletes what it published: the outbox holds only unsent entries and needs no other index,
    // but one on the transaction when masters reference each other, for the relay to publish whole transactions
    for (const index of ['entity_sync_outbox_unsent', 'entity_sync_outbox_tx_key']) await session.run(`DROP INDEX IF EXISTS ${index}`);
    const order = new TransactionOrder(new MasterMessages(tx).masters.values(), sync.graph);
    await session.run(order.trivial ? 'DROP INDEX IF EXISTS entity_sync_outbox_tx' : 'CREATE INDEX IF NOT EXISTS entity_sync_outbox_tx ON entity_sync_outbox (tx)');
    if (wal) {
      await prepareWalCapture(session, schema, captured.map(({ table }) => table));
      return captured;
    }
    // from WAL capture: what the slot holds becomes outbox entries before the triggers count anything
    const messages = new MasterMessages(tx);
    await replaceWalCapture(session, schema, (setup) => new WalRelay(setup, messages, order).moveToOutbox(session, schema));
    for (const { cqrsId, table } of captured) {
      await session.run(captureFunction(ident(schema), captureFunctionName(table), cqrsId, table.primaryKey.map((column) => column.name)));
      await session.run(`DROP TRIGGER IF EXISTS entity_sync_capture ON ${table.qualified}`);
      await session.run(`CREATE TRIGGER entity_sync_capture AFTER INSERT OR UPDATE OR DELETE ON ${table.qualified} ` +
        `FOR EACH ROW EXECUTE FUNCTION ${ident(schema)}.${captureFunctionName(table)}()`);
    }
    return captured;
  });
  if (wal) {
    await createSlot(em);
    // the slot captures from here on: the triggers can go
    await lockedInstall(em, async (tx, session) => {
      for (const { table } of masters) {
        await session.run(`DROP TRIGGER IF EXISTS entity_sync_capture ON ${table.qualified}`);
        await session.run(`DROP FUNCTION IF EXISTS ${ident(defaultSchemaOf(tx))}.${captureFunctionName(table)}()`);
      }
      await recordCapture(session, defaultSchemaOf(tx), 'wal');
    });
  }
  if (!wal) await inTransaction(em, async (tx) => dropSlot(await SqlSession.open(tx), defaultSchemaOf(tx)));
  return masters.map(({ cqrsId }) => cqrsId);
}

// Lock errors that a later attempt of the install gets past: the lock timeout, a deadlock.
const LOCK_CONFLICTS = new Set(['55P03', '40P01']);
const INSTALL_LOCK_MS = 60_000;

/**
 * Runs an install step in a transaction that first locks the master tables and the outbox tables
 * all at once (ACCESS EXCLUSIVE, as their DDL needs), waiting at most 100 ms: an app's
 * transaction that holds one of them while it waits for another then meets no deadlock with
 * the install (the install gives up first), and waits for it a few milliseconds at most. A step
 * that could not lock is tried again, with a growing pause, for up to a minute.
 */
async function lockedInstall<T>(em: EntityManager, work: (tx: EntityManager, session: SqlSession, captured: { cqrsId: string; table: TableNode }[]) => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(em, async (tx) => {
        const session = await SqlSession.open(tx);
        const schema = defaultSchemaOf(tx);
        const sync = EntitySync.forEntityManager(tx);
        const tables = await TableGraph.load(session, sync.graph, schema);
        const captured: { cqrsId: string; table: TableNode }[] = [];
        for (const name of sync.graph.nodes.keys()) {
          const master = sync.registryEntry(name)?.master;
          if (master) captured.push({ cqrsId: master.cqrsId, table: tables.table(name) });
        }
        const own = await session.query<{ relation: string }>(`SELECT to_regclass(r)::text AS relation FROM unnest(?::text[]) r WHERE to_regclass(r) IS NOT NULL`,
          [arrayLiteral(['entity_sync_outbox', 'entity_sync_revision'].map((name) => `${ident(schema)}.${name}`))]);
        const locked = [...captured.map(({ table }) => table.qualified), ...own.map(({ relation }) => relation)];
        if (locked.length) {
          await session.run(`SET LOCAL lock_timeout = '100ms'`);
          await session.run(`LOCK TABLE ${locked.join(', ')} IN ACCESS EXCLUSIVE MODE`);
          await session.run(`SET LOCAL lock_timeout = 0`);
        }
        return work(tx, session, captured);
      });
    } catch (error) {
      const code = (error as { code?: string; sqlState?: string }).code ?? (error as { sqlState?: string }).sqlState;
      if (!LOCK_CONFLICTS.has(String(code))) throw error;
      if (Date.now() - started > INSTALL_LOCK_MS) throw CqrsError.installLocked(INSTALL_LOCK_MS / 1000, error);
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random())));
    }
  }
}

const captureFunctionName = (table: TableNode) => `entity_sync_capture_${createHash('sha1').update(table.qualified).digest('hex').slice(0, 12)}`;

/**
 * Tags the changes the transaction `em` is in makes to master entities with a correlation id,
 * which their CQRS messages carry (a request id, say). Call it inside `em.transactional`.
 */
export async function setCorrelationId(em: EntityManager, correlationId: string): Promise<void> {
  checkEntityManager('setCorrelationId', em, "setCorrelationId(em, 'request-42')");
  const session = await SqlSession.open(em);
  // the trigger reads the setting; WAL capture reads a message in the transaction's WAL, where the logical level writes one
  await session.query(`SELECT set_config('entity_sync.correlation_id', ?, true), CASE WHEN current_setting('wal_level', true) = 'logical' ` +
    `THEN pg_logical_emit_message(true, '${CORRELATION_PREFIX}', ?) END`, [correlationId, correlationId]);
}
