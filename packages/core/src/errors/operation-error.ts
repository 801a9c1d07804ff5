import { EntitySyncError } from './entity-sync-error.js';

/** A long operation (export, import, delete, repair) that stopped before its end; nothing was written. */
export class OperationError extends EntitySyncError {
  /** The operation's `AbortSignal` fired; `reason` is the signal's. */
  static aborted(reason?: unknown): OperationError {
    return new OperationError('OPERATION_ABORTED', 'The operation was aborted; the transaction was rolled back and nothing was written.',
      { cause: reason });
  }
}
