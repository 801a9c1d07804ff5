import { AuditError, OptionError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../../extension/arguments.js';
import { inTransaction } from '../../extension/compat.js';
import { SqlSession } from '../../../internal/pg/sql-session.js';
import { AUDIT_ACTOR_SETTING } from './audit-tables.js';

function checkActor(fn: string, actor: unknown): asserts actor is string {
  if (typeof actor !== 'string' || actor === '' || actor.length > 200) throw OptionError.invalidArgument(fn, 'actor', actor, 'a user name or id (1 to 200 characters)');
}

/**
 * Names who makes the changes of the transaction `em` is in: the audit trail records it as their
 * actor, for changes through the unit of work, `nativeUpdate` and raw SQL alike. It holds until
 * the transaction ends. Call it inside `em.transactional` (`AUDIT_TRANSACTION_REQUIRED` otherwise).
 *
 * @example
 * ```ts
 * await orm.em.transactional(async (tx) => {
 *   await setAuditActor(tx, request.user.id);
 *   tx.assign(order, { status: 'shipped' });
 * });
 * ```
 */
export async function setAuditActor(em: EntityManager, actor: string): Promise<void> {
  checkEntityManager('setAuditActor', em, "setAuditActor(tx, 'alice')");
  checkActor('setAuditActor', actor);
  if (!em.isInTransaction()) throw AuditError.transactionRequired('setAuditActor');
  const session = await SqlSession.open(em);
  await session.query(`SELECT set_config('${AUDIT_ACTOR_SETTING}', ?, true)`, [actor]);
}

/**
 * Runs `work` in a transaction whose changes the audit trail records as `actor`'s, and flushes
 * what it persisted: `em.transactional` with `setAuditActor` first.
 *
 * @example
 * ```ts
 * await withAuditActor(orm.em.fork(), 'alice', async (tx) => { tx.create(Note, { text: 'hello' }); });
 * ```
 */
export async function withAuditActor<T>(em: EntityManager, actor: string, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  checkEntityManager('withAuditActor', em, "withAuditActor(orm.em.fork(), 'alice', async (tx) => { ... })");
  checkActor('withAuditActor', actor);
  return inTransaction(em, async (tx) => {
    await setAuditActor(tx, actor);
    return work(tx);
  });
}
