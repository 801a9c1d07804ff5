import { CqrsError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { arrayLiteral, ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { requireTables } from '../required-tables.js';

/**
 * Checks, before a relay starts, that `cqrs install` ran on the master, and that the outbox holds
 * no entries of CQRS ids this ORM does not publish (a renamed or removed `@Master`): this relay
 * would leave them unsent for ever.
 */
export async function checkMasterInstalled(em: EntityManager, cqrsIds: string[]): Promise<void> {
  await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    await requireTables(session, schema, ['entity_sync_outbox', 'entity_sync_revision'], 'entity-sync cqrs install (or installOutbox(em))');
    const unknown = await session.query<{ cqrs_id: string; entries: number }>(
      `SELECT cqrs_id, count(*)::int AS entries FROM ${ident(schema)}.entity_sync_outbox WHERE cqrs_id <> ALL(?::text[]) GROUP BY cqrs_id ORDER BY cqrs_id`,
      [arrayLiteral(cqrsIds)]);
    if (unknown.length) throw CqrsError.outboxHoldsUnknownIds(schema, unknown.map((row) => ({ cqrsId: row.cqrs_id, entries: row.entries })), cqrsIds);
  });
}
