import { EntitySyncError } from './entity-sync-error.js';

/** The audit trail cannot do what was asked: a model it does not record, a cursor it did not hand out, an actor set outside a transaction. */
export class AuditError extends EntitySyncError {
  /** Models named that have no audit trail (no `@SyncModel({ audit })`, or `installAudit` not run on them). */
  static notAudited(models: string[], audited: string[]): AuditError {
    return new AuditError('AUDIT_MODEL_NOT_AUDITED',
      `${models.join(', ')} ${models.length === 1 ? 'has' : 'have'} no audit trail. Mark ${models.length === 1 ? 'it' : 'them'} @SyncModel({ audit: true }) ` +
      `(or name ${models.length === 1 ? 'it' : 'them'} in installAudit's models) and run installAudit(orm.em.fork()). Audited: ${audited.join(', ') || '(none)'}.`,
      { info: { models, audited } });
  }

  /** The audit table is not there: `installAudit` never ran on this database. */
  static notInstalled(): AuditError {
    return new AuditError('AUDIT_NOT_INSTALLED',
      'The audit trail is not installed in this database. Run installAudit(orm.em.fork()) (or `entity-sync api install`) at deploy time, like a migration.');
  }

  /** An audit cursor that this trail did not hand out. */
  static cursorInvalid(cursor: unknown, of: 'audit trail' | 'sync log' = 'audit trail'): AuditError {
    const shown = typeof cursor === 'string' ? JSON.stringify(cursor.slice(0, 40)) : typeof cursor;
    return new AuditError('AUDIT_CURSOR_INVALID', `The cursor ${shown} is not one the ${of} hands out. Send back the cursor of the last page as it came, or none for the first page.`,
      { info: { cursor: typeof cursor === 'string' ? cursor.slice(0, 40) : null } });
  }

  /** `setAuditActor` outside a transaction: the actor would be set on a connection the changes may not run on. */
  static transactionRequired(fn: string): AuditError {
    return new AuditError('AUDIT_TRANSACTION_REQUIRED',
      `${fn} needs an open transaction: the actor holds for that transaction only. Call it inside em.transactional(async (tx) => { ... }) with tx, ` +
      'or use withAuditActor(em, actor, async (tx) => { ... }).');
  }
}
