import { CqrsError } from '../errors/cqrs-error.js';

/** The message format version this release writes and reads. */
export const CQRS_MESSAGE_VERSION = 1;

/** `save` and `delete` come from committed changes; `sync` from the repair tools, and applies even at an equal revision. */
export type CqrsOperation = 'save' | 'delete' | 'sync';

/** One committed change of a master row, as every transport carries it. */
export interface CqrsMessage {
  version: typeof CQRS_MESSAGE_VERSION;
  /** Unique per message: a transport may deliver a message twice, this tells them apart from new changes. */
  id: string;
  cqrsId: string;
  operation: CqrsOperation;
  /** Primary-key values of the master row, in key order. */
  key: unknown[];
  /** Grows by one on every committed change of the row. */
  revision: number;
  /**
   * The row's state after the change, by property; null for a delete, and for a `sync` of a row the master no
   * longer has (the replica deletes it). Values are those of PostgreSQL's `to_jsonb`, which a replica reads back
   * exactly (timestamps with microseconds, bytea as `\\x...` hex, arrays, json values), except that bigint and
   * numeric values (and arrays of them) are strings of their exact digits (`"9223372036854775807"`, `"0.10"`),
   * which a JSON number could not carry. A serializer's output is carried as it returns it.
   */
  state: Record<string, unknown> | null;
  /** The state before the change, where known. */
  previous?: Record<string, unknown> | null;
  correlationId?: string;
  /** When the change was committed (ISO 8601). */
  createdAt: string;
  /** After this time the message goes to the dead letter store unapplied. */
  expiresAt?: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Checks a received message; throws `CQRS_MESSAGE_VERSION` or `CQRS_MESSAGE_INVALID` naming the problem. */
export function parseCqrsMessage(value: unknown): CqrsMessage {
  const invalid = CqrsError.messageInvalid;
  if (!isRecord(value)) throw invalid('it is not an object');
  if (value.version !== CQRS_MESSAGE_VERSION) throw CqrsError.messageVersion(value.version, CQRS_MESSAGE_VERSION);
  if (typeof value.id !== 'string' || value.id === '') throw invalid('it has no id');
  if (typeof value.cqrsId !== 'string' || value.cqrsId === '') throw invalid('it has no cqrsId');
  if (!['save', 'delete', 'sync'].includes(value.operation as string)) throw invalid(`operation ${JSON.stringify(value.operation)} is unknown`);
  if (!Array.isArray(value.key) || value.key.length === 0) throw invalid('it has no primary key');
  if (!Number.isSafeInteger(value.revision) || (value.revision as number) < 0) throw invalid('its revision is not a whole number');
  if (value.operation === 'delete' ? value.state !== null : value.operation === 'save' ? !isRecord(value.state) : value.state !== null && !isRecord(value.state)) {
    throw invalid(value.operation === 'delete' ? 'a delete carries a state' : 'it carries no state');
  }
  if (typeof value.createdAt !== 'string') throw invalid('it has no createdAt');
  return value as unknown as CqrsMessage;
}
