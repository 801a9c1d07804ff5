import { CqrsError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { ident, literal, SqlSession } from '../../../internal/pg/sql-session.js';
import type { TableNode } from '../../../internal/pg/table-graph.js';

// WAL capture reads a master's changes from a logical replication slot (the pgoutput plugin, which
// PostgreSQL ships) instead of writing them into the outbox from a trigger: the writing
// transaction does no extra work at all. The publication lists the master tables (inserts,
// updates and deletes, as the triggers capture; a partition's change as its root table's) and each
// table logs its whole old row (REPLICA IDENTITY FULL), which is what `previous` and the relay's
// transaction order need. `entity_sync_capture` records which capture a schema uses, for the
// relay and `cqrs status`; `entity_sync_wal_position` is where the relay's last published
// transaction ends, written in the transaction that counts its revisions.

/** The prefix of the WAL message that carries a correlation id (`setCorrelationId`). */
export const CORRELATION_PREFIX = 'entity_sync.correlation_id';

/** How a master captures its changes. */
export type CaptureMode = 'trigger' | 'wal';

/** What `cqrs install` set up on a master's schema. */
export interface CaptureSetup {
  mode: CaptureMode;
  /** The replication slot and publication of WAL capture (named after the database and schema). */
  slot: string;
  publication: string;
}

// Slots are the cluster's, publications the database's: `entity_sync_<database>_<schema>`, in the characters a slot name allows.
async function walNames(session: SqlSession, schema: string): Promise<{ slot: string; publication: string }> {
  const [{ database }] = await session.query<{ database: string }>('SELECT current_database() AS database') as [{ database: string }];
  const name = `entity_sync_${database}_${schema}`.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63);
  return { slot: name, publication: name };
}

const CAPTURE_TABLE = 'entity_sync_capture';
const POSITION_TABLE = 'entity_sync_wal_position';

/** The capture the schema's install chose: trigger capture when none was recorded (installs before WAL capture existed). */
export async function readCapture(session: SqlSession, schema: string): Promise<CaptureSetup> {
  const names = await walNames(session, schema);
  if (!await session.tableExists(`${ident(schema)}.${CAPTURE_TABLE}`)) return { mode: 'trigger', ...names };
  const [row] = await session.query<{ mode: CaptureMode }>(`SELECT mode FROM ${ident(schema)}.${CAPTURE_TABLE}`);
  return { mode: row?.mode ?? 'trigger', ...names };
}

/** Records the capture of a schema (the relay and `cqrs status` read it). */
export async function recordCapture(session: SqlSession, schema: string, mode: CaptureMode): Promise<void> {
  const table = `${ident(schema)}.${CAPTURE_TABLE}`;
  await session.run(`CREATE TABLE IF NOT EXISTS ${table} (only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row), mode text NOT NULL)`);
  await session.run(`INSERT INTO ${table} (mode) VALUES (?) ON CONFLICT (only_row) DO UPDATE SET mode = excluded.mode`, [mode]);
}

/** Whether the replication slot `slot` exists. */
export async function slotExists(session: SqlSession, slot: string): Promise<boolean> {
  return (await session.query(`SELECT 1 FROM pg_replication_slots WHERE slot_name = ?`, [slot])).length > 0;
}

const publicationExists = async (session: SqlSession, publication: string) =>
  (await session.query(`SELECT 1 FROM pg_publication WHERE pubname = ?`, [publication])).length > 0;

async function checkLogical(session: SqlSession): Promise<void> {
  const [row] = await session.query<{ wal_level: string | null; slots: string | null }>(
    `SELECT current_setting('wal_level', true) AS wal_level, current_setting('max_replication_slots', true) AS slots`);
  if (row?.wal_level !== 'logical') throw CqrsError.walUnavailable(`wal_level is ${row?.wal_level ?? 'not a setting here'}, not logical`);
  if (Number(row.slots) === 0) throw CqrsError.walUnavailable('max_replication_slots is 0');
  const [role] = await session.query<{ allowed: boolean; name: string }>(
    'SELECT rolsuper OR rolreplication AS allowed, rolname AS name FROM pg_roles WHERE rolname = current_user');
  if (!role?.allowed) throw CqrsError.walUnavailable(`the role ${role?.name ?? 'of this connection'} has neither the REPLICATION attribute nor superuser`);
}

/**
 * The first part of `cqrs install --capture wal`, in the install's transaction: the publication of
 * the master tables, their full old rows and the position table. The slot
 * comes after the commit (PostgreSQL creates none in a transaction that wrote); the triggers are
 * dropped once the slot exists, so that no change is missed in between (one captured both ways is
 * published twice, which replicas drop or apply again with the same state).
 */
export async function prepareWalCapture(session: SqlSession, schema: string, tables: TableNode[]): Promise<void> {
  await checkLogical(session);
  const { publication, slot } = await walNames(session, schema);
  await session.run(`CREATE TABLE IF NOT EXISTS ${ident(schema)}.${POSITION_TABLE} (slot text PRIMARY KEY, lsn pg_lsn NOT NULL)`);
  await session.run(`INSERT INTO ${ident(schema)}.${POSITION_TABLE} (slot, lsn) VALUES (?, '0/0') ON CONFLICT (slot) DO NOTHING`, [slot]);
  const list = tables.map((table) => table.qualified).join(', ');
  await session.run(await publicationExists(session, publication) ? `ALTER PUBLICATION ${ident(publication)} SET TABLE ${list}`
    : `CREATE PUBLICATION ${ident(publication)} FOR TABLE ${list}`);
  await session.run(`ALTER PUBLICATION ${ident(publication)} SET (publish = 'insert, update, delete', publish_via_partition_root = true)`);
  for (const table of tables) {
    // a partitioned table's replica identity is its partitions' own (the tree lists none for a plain table)
    const partitions = await session.query<{ relation: string }>(
      `SELECT relid::regclass::text AS relation FROM pg_partition_tree(?::regclass) WHERE relid <> ?::regclass`, [table.qualified, table.qualified]);
    for (const relation of [table.qualified, ...partitions.map((row) => row.relation)]) await session.run(`ALTER TABLE ${relation} REPLICA IDENTITY FULL`);
  }
}

/** Creates the slot of WAL capture when it does not exist yet (outside any transaction that wrote). */
export async function createSlot(em: EntityManager): Promise<void> {
  await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const { slot } = await walNames(session, defaultSchemaOf(tx));
    const [found] = await session.query<{ wal_status: string | null }>('SELECT wal_status FROM pg_replication_slots WHERE slot_name = ?', [slot]);
    if (found?.wal_status === 'lost') throw CqrsError.slotLost(slot);
    if (found) return;
    try {
      await session.query(`SELECT pg_create_logical_replication_slot(?, 'pgoutput')`, [slot]);
    } catch (error) {
      throw CqrsError.walUnavailable(`the replication slot ${slot} could not be created (${(error as Error).message})`, error);
    }
  });
}

/**
 * Trigger capture replaces WAL capture, in the install's transaction with the master tables
 * locked against writes: the changes the slot still holds become outbox entries (their revisions
 * counted before any of the triggers'), and the publication goes, so that the slot captures
 * nothing from the commit on. `dropSlot` removes the slot after the commit.
 */
export async function replaceWalCapture(session: SqlSession, schema: string,
  moveToOutbox: (setup: CaptureSetup) => Promise<number>): Promise<void> {
  const setup = await readCapture(session, schema);
  if (await publicationExists(session, setup.publication)) {
    if (await slotExists(session, setup.slot)) await moveToOutbox(setup);
    await session.run(`DROP PUBLICATION ${ident(setup.publication)}`);
  }
  // a schema that never had WAL capture keeps no record of its capture
  if (await session.tableExists(`${ident(schema)}.${CAPTURE_TABLE}`)) await recordCapture(session, schema, 'trigger');
}

/** Drops the slot of a schema whose WAL capture trigger capture replaced (after the install's commit). */
export async function dropSlot(session: SqlSession, schema: string): Promise<void> {
  const { slot } = await walNames(session, schema);
  await session.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ? AND NOT active`, [slot]);
}

/** A replication slot as `cqrs status` reports it. */
export interface SlotStatus {
  name: string;
  /** A relay is reading it now. */
  active: boolean;
  /** The position up to which the relay has published (or passed) the slot's changes. */
  confirmedPosition: string;
  /** WAL written since that position: what the relay has yet to publish or pass. */
  lagBytes: number;
  /** WAL the slot keeps PostgreSQL from removing. */
  retainedBytes: number;
  /** `pg_replication_slots.wal_status`: `reserved`, `extended`, `unreserved`, or `lost` (the slot can no longer be read). */
  walStatus: string;
}

/** What a master's capture looks like now. */
export interface CaptureStatus {
  mode: CaptureMode;
  /** Outbox entries not yet published (trigger capture, and what WAL capture found left from it). */
  outboxPending: number;
  slot?: SlotStatus;
  /** Things an operator should act on, each with what to do. */
  warnings: string[];
}

/** Options of `captureStatus`. */
export interface CaptureStatusOptions {
  /** Retained WAL beyond which a warning says the slot may be abandoned. Default 1 GiB. */
  warnRetainedBytes?: number;
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/**
 * The capture of the ORM's schema: its mode, the outbox entries waiting, and with WAL capture the
 * slot's lag and the WAL it retains. An abandoned slot keeps WAL without bound (the disk fills);
 * a warning past `warnRetainedBytes` says how to drop it.
 */
export async function captureStatus(em: EntityManager, options: CaptureStatusOptions = {}): Promise<CaptureStatus> {
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    const setup = await readCapture(session, schema);
    const outbox = `${ident(schema)}.entity_sync_outbox`;
    const outboxPending = await session.tableExists(outbox)
      ? Number((await session.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${ident(schema)}.entity_sync_outbox`))[0]!.n) : 0;
    const warnings: string[] = [];
    const [slot] = setup.mode === 'wal' ? await session.query<{ active: boolean; confirmed: string; lag: string; retained: string; wal_status: string | null }>(
      `SELECT active, confirmed_flush_lsn::text AS confirmed, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), confirmed_flush_lsn)::bigint::text AS lag, ` +
      `pg_wal_lsn_diff(pg_current_wal_insert_lsn(), restart_lsn)::bigint::text AS retained, wal_status FROM pg_replication_slots WHERE slot_name = ?`, [setup.slot]) : [];
    const status: CaptureStatus = { mode: setup.mode, outboxPending, warnings };
    if (slot) {
      status.slot = { name: setup.slot, active: slot.active, confirmedPosition: slot.confirmed, lagBytes: Number(slot.lag), retainedBytes: Number(slot.retained), walStatus: slot.wal_status ?? 'unknown' };
      const limit = options.warnRetainedBytes ?? 1024 ** 3;
      if (status.slot.walStatus === 'lost') {
        warnings.push(`slot ${setup.slot} is lost (PostgreSQL removed WAL it needed): changes were missed. Drop it with ` +
          `SELECT pg_drop_replication_slot(${literal(setup.slot)}), run \`cqrs install --capture wal\` again and repair the replicas (dump | load, or diff-master | diff-replica | diff-sync).`);
      } else if (status.slot.retainedBytes > limit) {
        warnings.push(`slot ${setup.slot} retains ${megabytes(status.slot.retainedBytes)} of WAL${status.slot.active ? '' : ' and no relay reads it'}: a slot nobody reads ` +
          'keeps WAL without bound until the disk is full. Start the relay (`entity-sync cqrs relay`); if this master no longer replicates, drop the slot: ' +
          `SELECT pg_drop_replication_slot(${literal(setup.slot)}) (and DROP PUBLICATION ${ident(setup.publication)}).`);
      }
    } else if (setup.mode === 'wal') {
      warnings.push(`slot ${setup.slot} does not exist: run \`cqrs install --capture wal\` again (changes since it was dropped were not captured; repair the replicas).`);
    }
    return status;
  });
}
