import { CQRS_MESSAGE_VERSION, EntitySyncError, type CqrsMessage, type MasterOptions, type Transport } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../compat.js';
import { EntitySync } from '../entity-sync.js';
import { ident, SqlSession } from '../graph/sql-session.js';

/** Options of `relayOutbox`. */
export interface RelayOptions {
  /** Outbox entries per batch. Default 500. */
  batchSize?: number;
}

interface OutboxRow {
  id: string;
  cqrs_id: string;
  key: unknown[];
  operation: 'save' | 'delete';
  revision: string;
  state: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
  created_at: string;
}

interface Master {
  entity: string;
  options: MasterOptions;
  /** Column name -> property name. */
  properties: Map<string, string>;
}

function isClass(value: unknown): boolean {
  return typeof value === 'function' && /^class[\s{]/.test(Function.prototype.toString.call(value));
}

function mastersOf(sync: EntitySync): Map<string, Master> {
  const masters = new Map<string, Master>();
  for (const node of sync.graph.nodes.values()) {
    const master = sync.registryEntry(node.name)?.master;
    if (!master) continue;
    masters.set(master.cqrsId, {
      entity: node.name,
      options: master.options,
      properties: new Map(node.columns.map((column) => [column.name, column.property])),
    });
  }
  return masters;
}

function stateOf(master: Master, row: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!row) return null;
  const { include, exclude } = master.options;
  const state: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(row)) {
    const property = master.properties.get(column) ?? column;
    if (include && !include.includes(property)) continue;
    if (exclude?.includes(property)) continue;
    state[property] = value;
  }
  return state;
}

/**
 * Publishes committed outbox entries in order, in batches, and marks them sent only once the
 * transport confirmed them. A crash between publishing and marking publishes the batch again
 * on the next run: replicas drop the duplicates by revision, so each change applies once.
 * Returns how many entries it handled (0 when the outbox is empty).
 */
export async function relayOutbox(em: EntityManager, transport: Transport, options: RelayOptions = {}): Promise<number> {
  const sync = EntitySync.forEntityManager(em);
  const masters = mastersOf(sync);
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const outbox = `${ident(defaultSchemaOf(tx))}.entity_sync_outbox`;
    // SKIP LOCKED lets several relays share the outbox without publishing an entry twice at once.
    const rows = await session.query<OutboxRow>(
      `SELECT id::text, cqrs_id, key, operation, revision::text, state, previous, created_at::text FROM ${outbox} ` +
      `WHERE sent_at IS NULL ORDER BY id LIMIT ${options.batchSize ?? 500} FOR UPDATE SKIP LOCKED`);
    if (rows.length === 0) return 0;
    const messages: CqrsMessage[] = [];
    for (const row of rows) {
      const master = masters.get(row.cqrs_id);
      if (!master || master.options.produce === false) continue;
      const state = stateOf(master, row.state);
      if (state && master.options.shouldSync && !master.options.shouldSync(state)) continue;
      const serialize = master.options.serializer;
      if (serialize && isClass(serialize)) {
        throw new EntitySyncError('REGISTRY_INVALID_OPTION',
          `@Master('${row.cqrs_id}'): class serializers are not supported yet; pass a function (state) => object.`);
      }
      messages.push({
        version: CQRS_MESSAGE_VERSION,
        id: `${row.cqrs_id}/${JSON.stringify(row.key)}/${row.revision}`,
        cqrsId: row.cqrs_id,
        operation: row.operation,
        key: row.key,
        revision: Number(row.revision),
        state: state && serialize ? await (serialize as (s: unknown) => Record<string, unknown>)(state) : state,
        previous: stateOf(master, row.previous),
        createdAt: new Date(row.created_at).toISOString(),
      });
    }
    if (messages.length) await transport.publish(messages);
    await session.run(`UPDATE ${outbox} SET sent_at = clock_timestamp() WHERE id = ANY(?::bigint[])`, [`{${rows.map((row) => row.id).join(',')}}`]);
    return rows.length;
  });
}
