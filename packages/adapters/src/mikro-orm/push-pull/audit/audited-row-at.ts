import { OptionError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { asProperties, AUDIT_TABLE, auditedModel, auditedModelRows, columnList, keyJsonOf, keyMatch, keyText, parsedJson } from './audit-tables.js';

/**
 * A row as it was at `at`, rebuilt from the audit trail: its values under their property names
 * (the audited ones: excluded properties are not there), or null when the row did not exist then.
 * The rebuild starts from the row as it is now and undoes the changes recorded after `at`, newest
 * first, so it also holds for rows older than the trail.
 *
 * @example
 * ```ts
 * const lastWeek = await auditedRowAt(orm.em.fork(), 'Order', 42, new Date(Date.now() - 7 * 86_400_000));
 * ```
 */
export async function auditedRowAt(em: EntityManager, model: string, key: unknown, at: Date): Promise<Record<string, unknown> | null> {
  checkEntityManager('auditedRowAt', em, "auditedRowAt(orm.em.fork(), 'Order', 42, new Date('2026-01-01'))");
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw OptionError.invalidArgument('auditedRowAt', 'at', at, 'a valid Date');
  // the row now and the changes after `at` are read in one snapshot: a change committed in between is in both or in neither
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = defaultSchemaOf(tx);
    const audited = auditedModel(await auditedModelRows(session, schema), model);
    const keys = parsedJson<unknown[]>(keyText(key));
    if (keys.length !== audited.keyColumns.length) {
      throw OptionError.invalidArgument('auditedRowAt', 'key', key, `${audited.keyColumns.length === 1 ? 'the value' : `the list of the ${audited.keyColumns.length} values`} of ${model}'s primary key (${audited.keyColumns.join(', ')})`);
    }
    const [now] = await session.query<{ doc: unknown }>(`SELECT to_jsonb(t) - ${columnList(audited.excluded)} AS doc FROM ${audited.table} t WHERE ${keyMatch(audited, 't')}`,
      audited.keyColumns.map(() => keyText(key)));
    let state = now ? parsedJson<Record<string, unknown>>(now.doc) : null;
    const later = await session.query<{ operation: string; old: unknown }>(
      `SELECT operation, old FROM ${ident(schema)}.${AUDIT_TABLE} WHERE model = ? AND key = ${keyJsonOf(audited)} AND at > ? ORDER BY id DESC`,
      [model, ...audited.keyTypes.map(() => keyText(key)), at.toISOString()]);
    for (const change of later) {
      const old = parsedJson<Record<string, unknown> | null>(change.old);
      state = change.operation === 'create' ? null : change.operation === 'delete' ? old : { ...state, ...old };
    }
    return state && asProperties(audited, state);
  }, 'repeatable read');
}
