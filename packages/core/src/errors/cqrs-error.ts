import { EntitySyncError } from './entity-sync-error.js';

/** The line streams of the CQRS repair tools: a master dump, or a master listing for a diff. */
export type CqrsStreamKind = 'dump' | 'diff';

const streamRemedy: Record<CqrsStreamKind, string> = {
  dump: 'Nothing was loaded. Write the dump again with dumpMaster and load the whole file (a file without its end line was cut short).',
  diff: 'Nothing was repaired. Run the diff again from diffMaster and pass on the whole stream (a stream without its end line was cut short).',
};

const declared = (ids: string[]) => `(it declares ${ids.join(', ') || 'none'})`;
const quoted = (ids: string[]) => ids.map((id) => `'${id}'`).join(', ');

/**
 * A CQRS replication that cannot go on: a message or stream that cannot be read, a CQRS id with
 * no entity to serve it, a database that lacks what replication needs.
 */
export class CqrsError extends EntitySyncError {
  /** A received message that is not one; it goes to the dead letters. */
  static messageInvalid(why: string): CqrsError {
    return new CqrsError('CQRS_MESSAGE_INVALID',
      `Not a valid entity-sync CQRS message: ${why}. It was dead-lettered; fix the producer and replay it.`, { info: { why } });
  }

  /** A message of a format version this replica does not read. */
  static messageVersion(version: unknown, supported: number): CqrsError {
    return new CqrsError('CQRS_MESSAGE_VERSION',
      `CQRS message version ${JSON.stringify(version)} is not understood by this replica (it reads version ${supported}). Upgrade entity-sync on the replica.`,
      { info: { version } });
  }

  /** A tool was given a CQRS id that no `@Master` of this ORM declares. */
  static unknownMaster(cqrsId: string, declaredIds: string[]): CqrsError {
    return CqrsError.unknownId('Master', cqrsId, declaredIds, 'Check the CQRS id, or run this on the master service that declares it.');
  }

  /** A tool was given (or a stream names) a CQRS id that no `@Replica` of this ORM declares. */
  static unknownReplica(cqrsId: string, declaredIds: string[]): CqrsError {
    return CqrsError.unknownId('Replica', cqrsId, declaredIds, 'Check the CQRS id, or run this on the replica service that declares it.');
  }

  /** A message reached a replica service that has no `@Replica` for its CQRS id. */
  static messageWithoutReplica(cqrsId: string, declaredIds: string[]): CqrsError {
    return CqrsError.unknownId('Replica', cqrsId, declaredIds, 'Declare one, or stop routing that id to this service\'s queue.');
  }

  /** The outbox holds entries of CQRS ids no `@Master` of the relay's ORM declares: the relay would leave them unsent. */
  static outboxHoldsUnknownIds(schema: string, unknown: { cqrsId: string; entries: number }[], declaredIds: string[]): CqrsError {
    const listed = unknown.map((entry) => `'${entry.cqrsId}' (${entry.entries})`).join(', ');
    return new CqrsError('CQRS_UNKNOWN_ID',
      `The outbox holds entries of ${listed}, which no @Master of this ORM declares ${declared(declaredIds)}. ` +
      'Run the relay with the entities that declare them; if an entity was renamed or removed, drop its capture trigger and ' +
      `delete those entries (DELETE FROM ${schema}.entity_sync_outbox WHERE cqrs_id = '...').`,
      { info: { schema, unknown: unknown.map((entry) => entry.cqrsId) } });
  }

  /** A consumer's queue is bound to (or holds messages of) CQRS ids its ORM has no `@Replica` for: each would be dead-lettered. */
  static queueBoundToUnknownIds(queue: string, unknown: string[], declaredIds: string[]): CqrsError {
    return new CqrsError('CQRS_UNKNOWN_ID',
      `Queue '${queue}' is bound to or holds messages of ${quoted(unknown)}, which no @Replica of this ORM declares ${declared(declaredIds)}: ` +
      'every such message would be dead-lettered. Declare a @Replica for each, ' +
      'or consume this queue with the replica service that declares them (one queue per replica service).',
      { info: { queue, unknown } });
  }

  /** A message lacks fields the replica entity cannot do without; nothing of its batch was applied. */
  static fieldMissing(messageId: string, entity: string, missing: string[]): CqrsError {
    return new CqrsError('CQRS_FIELD_MISSING',
      `Message ${messageId} lacks ${missing.join(', ')}, which ${entity} requires; nothing was applied. ` +
      'Publish the field from the master, give it a default on the replica, or map it with @Replica fields.',
      { info: { id: messageId, entity, missing } });
  }

  /** A message that arrived after its `expiresAt`. */
  static messageExpired(messageId: string, expiresAt: string): CqrsError {
    return new CqrsError('CQRS_MESSAGE_EXPIRED', `Message ${messageId} expired at ${expiresAt} and was not applied.`, { info: { id: messageId } });
  }

  /** A dump or diff stream that is cut short or malformed; `line` is the 1-based line that is wrong. */
  static streamInvalid(kind: CqrsStreamKind, why: string, line?: number, cause?: unknown): CqrsError {
    return new CqrsError('CQRS_DUMP_INVALID',
      `Invalid CQRS ${kind} stream${line ? ` at line ${line}` : ''}: ${why}. ${streamRemedy[kind]}`,
      { info: { line, why }, cause });
  }

  /** Tables replication needs are missing; `install` is what creates them. */
  static notInstalled(schema: string, missing: string[], install: string): CqrsError {
    return new CqrsError('CQRS_NOT_INSTALLED',
      `${missing.join(', ')} does not exist in schema '${schema}': run \`${install}\` first (a deploy step, like a migration).`,
      { info: { schema, missing } });
  }

  /** The replica's tables lack tables or columns its `@Replica` entities map (`missing` names each). */
  static replicaColumnsMissing(missing: string[]): CqrsError {
    return new CqrsError('CQRS_SCHEMA_MISMATCH',
      `The replica's tables lack what its entities map: ${missing.join(', ')}. Run the replica's migrations before consuming.`,
      { info: { missing } });
  }

  /** The state a master publishes does not fit the replica's column types; `cause` is the database's refusal. */
  static stateDoesNotFit(cqrsId: string, entity: string, cause: unknown): CqrsError {
    return new CqrsError('CQRS_SCHEMA_MISMATCH',
      `The state the master publishes for '${cqrsId}' does not fit the columns of ${entity} (${(cause as Error)?.message ?? String(cause)}); nothing was compared. ` +
      'Map the field with @Replica fields (a rename, null to leave it out, or a transform), give the replica column a type that takes the value, ' +
      'or compare revisions only (diffMaster with content: false, `cqrs diff-master --no-content`).',
      { cause, info: { cqrsId, entity } });
  }

  /**
   * WAL capture cannot be set up or read on this database: `why` says what it lacks (`wal_level`, a free
   * replication slot, the REPLICATION privilege); `cause` is the database's refusal, if any.
   */
  static walUnavailable(why: string, cause?: unknown): CqrsError {
    return new CqrsError('CQRS_WAL_UNAVAILABLE',
      `WAL capture needs logical replication on the master database: ${why}. Nothing was changed. ` +
      'Set wal_level = logical (and max_replication_slots > 0) in postgresql.conf and restart PostgreSQL, run install as a role with the ' +
      'REPLICATION attribute (or a superuser), or keep the default trigger capture (`cqrs install` without --capture wal).',
      { cause, info: { why } });
  }

  /** Another relay streams the replication slot of WAL capture (a slot serves one reader at a time). */
  static slotInUse(slot: string, cause: unknown): CqrsError {
    return new CqrsError('CQRS_SLOT_IN_USE',
      `A relay is reading the replication slot ${slot} (${(cause as Error)?.message ?? String(cause)}); nothing was done. ` +
      'A slot serves one reader at a time: stop that relay first (a switch back to triggers needs the slot to itself), or leave the ' +
      'publishing to it (a started relay waits for its turn and takes over when the other stops).',
      { cause, info: { slot } });
  }

  /** An install could not lock the master tables: the app's writes kept them busy for `seconds`. */
  static installLocked(seconds: number, cause: unknown): CqrsError {
    return new CqrsError('CQRS_INSTALL_LOCKED',
      `cqrs install could not lock the master tables in ${seconds} s: transactions of the app held them all along. Nothing was changed. ` +
      'Run it again at a quieter moment (it waits at most 100 ms per try, so that writers are never held up longer, and tries again).',
      { cause, info: { seconds } });
  }

  /** PostgreSQL removed WAL the replication slot of WAL capture still needed: the changes in it are gone. */
  static slotLost(slot: string, cause?: unknown): CqrsError {
    return new CqrsError('CQRS_SLOT_LOST',
      `The replication slot ${slot} is lost: PostgreSQL removed WAL it still needed (max_slot_wal_keep_size), so changes were missed. ` +
      `Drop it (SELECT pg_drop_replication_slot('${slot}')), run \`cqrs install --capture wal\` again (or \`cqrs install\` to go back to triggers), ` +
      'and repair the replicas ' +
      '(cqrs dump | cqrs load, or cqrs diff-master | cqrs diff-replica | cqrs diff-sync).',
      { cause, info: { slot } });
  }

  private static unknownId(role: 'Master' | 'Replica', cqrsId: string, declaredIds: string[], advice: string): CqrsError {
    return new CqrsError('CQRS_UNKNOWN_ID', `No @${role}('${cqrsId}') entity in this ORM ${declared(declaredIds)}. ${advice}`, { info: { cqrsId } });
  }
}
