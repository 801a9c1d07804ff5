import type { AuditRetention } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { cutoffOf, keepOf } from '../retention-window.js';
import { AUDIT_TABLE, auditedModel, auditedModelRows } from './audit-tables.js';

/** Options of `pruneAudit`. */
export interface PruneAuditOptions {
  /** Prune this model's entries only (default every audited model). */
  model?: string;
  /** Entries older than this go: a date, or an age in milliseconds. Default the model's `retention.days`. */
  olderThan?: Date | number;
  /** At most this many entries of each model stay, the newest. Default the model's `retention.keep`. */
  keep?: number;
}

const DAY_MS = 86_400_000;

/**
 * Applies the audit trail's retention: per model, removes the entries older than `olderThan` and
 * those past the newest `keep`, by default as each model's `@SyncModel({ audit: { retention } })`
 * says (a model without one keeps everything). Returns how many entries went, per model.
 *
 * @example
 * ```ts
 * await pruneAudit(orm.em.fork());                                  // each model's own retention
 * await pruneAudit(orm.em.fork(), { model: 'Order', olderThan: 90 * 86_400_000 });
 * ```
 */
export async function pruneAudit(em: EntityManager, options: PruneAuditOptions = {}): Promise<Record<string, number>> {
  checkEntityManager('pruneAudit', em, 'pruneAudit(orm.em.fork(), { olderThan: 90 * 86_400_000 })');
  const asked = cutoffOf('pruneAudit', options.olderThan);
  const keep = keepOf('pruneAudit', options.keep);
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    const trail = `${ident(schema)}.${AUDIT_TABLE}`;
    const models = await auditedModelRows(session, schema);
    const chosen = options.model === undefined ? [...models.values()] : [auditedModel(models, options.model)];
    const removed: Record<string, number> = {};
    for (const model of chosen) {
      const retention: AuditRetention = model.retention;
      const cutoff = asked ?? (retention.days === undefined ? undefined : new Date(Date.now() - retention.days * DAY_MS));
      const kept = keep ?? retention.keep;
      let count = 0;
      if (cutoff) count += await session.run(`DELETE FROM ${trail} WHERE model = ? AND at < ?`, [model.model, cutoff.toISOString()]);
      if (kept !== undefined) {
        count += await session.run(kept === 0 ? `DELETE FROM ${trail} WHERE model = ?` :
          `DELETE FROM ${trail} WHERE model = ? AND id < (SELECT id FROM ${trail} WHERE model = ? ORDER BY id DESC OFFSET ${kept - 1} LIMIT 1)`,
        kept === 0 ? [model.model] : [model.model, model.model]);
      }
      removed[model.model] = count;
    }
    return removed;
  });
}
