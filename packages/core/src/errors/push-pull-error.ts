import { databaseErrorFacts } from './database-error-facts.js';
import { EntitySyncError } from './entity-sync-error.js';

/** A request of the push/pull sync API that cannot be served as asked. */
export class PushPullError extends EntitySyncError {
  /** A pull checkpoint that this server did not hand out (or that was changed on the way). */
  static checkpointInvalid(checkpoint: unknown): PushPullError {
    const shown = typeof checkpoint === 'string' ? JSON.stringify(checkpoint.slice(0, 80)) : typeof checkpoint;
    return new PushPullError('PULL_CHECKPOINT_INVALID',
      `The pull checkpoint ${shown} is not one this server hands out. Send back the checkpoint of the last pull's answer as it came, ` +
      'or none (null) to pull everything from the start.', { info: { checkpoint: typeof checkpoint === 'string' ? checkpoint.slice(0, 80) : null } });
  }

  /** Models the request names that the API does not serve (or the caller may not pull). */
  static modelNotServed(models: string[], served: string[]): PushPullError {
    return new PushPullError('PUSH_PULL_MODEL_NOT_SERVED',
      `${models.join(', ')} ${models.length === 1 ? 'is' : 'are'} not served by this sync API. Ask for ${served.join(', ') || '(none)'}, or none to get them all.`,
      { info: { models, served } });
  }

  /** A served model whose table has no change capture: `installPushPull` did not run on it. */
  static notInstalled(models: string[]): PushPullError {
    return new PushPullError('PUSH_PULL_NOT_INSTALLED',
      `The sync API cannot serve ${models.join(', ')}: the change capture is not installed on ${models.length === 1 ? 'its table' : 'their tables'}. ` +
      'Run installPushPull(orm.em.fork()) (or `entity-sync api install`) at deploy time, like a migration.', { info: { models } });
  }

  /** The sync log's table is not there (the API was installed by a version without it); the request itself was served. */
  static logNotInstalled(cause: unknown): PushPullError {
    return new PushPullError('PUSH_PULL_NOT_INSTALLED',
      'The sync log could not be written: its table is not in this database. Run installPushPull(orm.em.fork()) (or `entity-sync api install`) ' +
      'again at deploy time, or turn the log off with pushPullRoutes(orm, { log: false }).', { cause });
  }

  /** A pushed change that cannot be applied as sent (a property the model does not have, no id); nothing was written. */
  static changeInvalid(index: number, model: string, why: string): PushPullError {
    return new PushPullError('PUSH_CHANGE_INVALID',
      `Change ${index} (${model}) of the push cannot be applied: ${why}. Nothing was written; fix the change and push again (the same mutationId may be reused).`,
      { info: { index, model, why } });
  }

  /** The database refused the push's writes (a constraint, a trigger); nothing was written. */
  static rejected(cause: unknown): PushPullError {
    const facts = databaseErrorFacts(cause);
    const said = facts ? `${facts.message}${facts.constraint ? ` (constraint ${facts.constraint})` : ''}` : ((cause as Error)?.message ?? String(cause));
    return new PushPullError('PUSH_REJECTED', `The database refused the push: ${said}. Nothing was written; fix the rows and push again.`,
      { info: { database: facts ?? null }, cause });
  }

  /** A pushed row that the server changed after the client's last pull, in a push that fails whole on a conflict. */
  static conflict(model: string, id: unknown): PushPullError {
    return new PushPullError('PUSH_CONFLICT',
      `${model} ${JSON.stringify(id)} was changed on the server after your last pull. Nothing was written: pull, then push again.`, { info: { model, id } });
  }

  /** Models the caller's roles give no right to pull (or push). */
  static forbidden(models: string[], right: 'pull' | 'push', subject: string): PushPullError {
    return new PushPullError('PUSH_PULL_FORBIDDEN',
      `${subject} may not ${right} ${models.join(', ')}: none of their roles has the ${right} permission on ${models.length === 1 ? 'it' : 'them'}. ` +
      `Leave ${models.length === 1 ? 'it' : 'them'} out of the request, or ask for the permission (grantPermissions).`, { info: { models, right, subject } });
  }

  /** A permission or row filter that cannot be kept as given. */
  static permissionInvalid(role: unknown, model: unknown, why: string): PushPullError {
    return new PushPullError('PUSH_PULL_PERMISSION_INVALID', `The permission of role ${JSON.stringify(role)} on ${JSON.stringify(model)} cannot be kept: ${why}. Nothing was changed.`,
      { info: { role: typeof role === 'string' ? role : null, model: typeof model === 'string' ? model : null, why } });
  }

  /** A checkpoint older than the tombstones the server still keeps: the client must drop its copy and pull from the start. */
  static resyncRequired(checkpoint: string): PushPullError {
    return new PushPullError('PULL_RESYNC_REQUIRED',
      `The checkpoint ${JSON.stringify(checkpoint)} is older than the deletes this server still keeps, so some deletes since then cannot be sent. ` +
      'Drop the local copy and pull from the start (checkpoint null).', { info: { checkpoint } });
  }

  /** A request for models that belong to tenants, without saying which tenant. */
  static tenantRequired(models: string[]): PushPullError {
    return new PushPullError('PUSH_PULL_TENANT_REQUIRED',
      `${models.join(', ')} ${models.length === 1 ? 'belongs' : 'belong'} to tenants: name the tenant to sync (\`tenant\` in the request).`, { info: { models } });
  }

  /** A tenant the caller does not belong to. */
  static tenantForbidden(tenant: string, subject: string): PushPullError {
    return new PushPullError('PUSH_PULL_TENANT_FORBIDDEN',
      `${subject} does not belong to tenant ${JSON.stringify(tenant)}: sync one of the tenants of the token, or ask for a token that has it.`, { info: { tenant, subject } });
  }

  /** `@SyncModel({ tenant })` names a property that is not one column of the entity. */
  static tenantPropertyInvalid(model: string, property: string): PushPullError {
    return new PushPullError('PUSH_PULL_MODEL_INVALID',
      `@SyncModel({ tenant: ${JSON.stringify(property)} }) on ${model} names no property of one column: name a scalar property or a to-one relation that holds the row's tenant.`,
      { info: { model, property } });
  }

  /** A pull horizon (a transaction id) too large to be a WatermelonDB timestamp, a JavaScript number. */
  static timestampUnsafe(xid: string): PushPullError {
    return new PushPullError('PULL_TIMESTAMP_UNSAFE',
      `The pull's position, transaction ${xid}, is not a safe JavaScript number above 0, so it cannot be sent as a WatermelonDB timestamp. ` +
      'Sync this database with the checkpoint API (POST /pull) instead.', { info: { xid } });
  }
}
