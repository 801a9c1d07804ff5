import type { ErrorCode } from './error-code.js';

/** Options every entity-sync error accepts besides its message. */
export interface EntitySyncErrorOptions {
  /** The error that caused this one, kept for debugging. */
  cause?: unknown;
  /** Structured facts about the failure (entity, option, key...), for programs. */
  info?: Record<string, unknown>;
}

/**
 * Base class of every error entity-sync raises for a failure a user can cause.
 * `code` is stable across releases: match on it, not on the message.
 */
export class EntitySyncError extends Error {
  readonly code: ErrorCode;
  readonly info: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options: EntitySyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.info = options.info ?? {};
  }
}

/** True when `error` is an entity-sync error, optionally with the given code. */
export function isEntitySyncError(error: unknown, code?: ErrorCode): error is EntitySyncError {
  return error instanceof EntitySyncError && (code === undefined || error.code === code);
}
