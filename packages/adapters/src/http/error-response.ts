import { HttpError, isEntitySyncError, type ErrorCode } from '@entity-sync/core';

/**
 * The HTTP status each error code answers with; a code not listed answers 500 (with its code and
 * message: typed errors are written for the user). The one place the mapping lives.
 */
export const STATUS_OF_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  REQUEST_INVALID: 400,
  INVALID_OPTION: 400,
  DOCUMENT_INVALID: 400,
  DOCUMENT_TRUNCATED: 400,
  DOCUMENT_VERSION_UNSUPPORTED: 400,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  AUTH_FORBIDDEN: 403,
  ROUTE_NOT_FOUND: 404,
  ROOT_NOT_FOUND: 404,
  ENV_SYNC_FILE_NOT_FOUND: 404,
  ENV_SYNC_MODEL_NOT_SERVED: 403,
  ENV_SYNC_MODEL_INVALID: 400,
  PULL_CHECKPOINT_INVALID: 400,
  PUSH_CONFLICT: 409,
  PUSH_PULL_FORBIDDEN: 403,
  PUSH_PULL_PERMISSION_INVALID: 400,
  PULL_RESYNC_REQUIRED: 409,
  PUSH_PULL_MODEL_NOT_SERVED: 403,
  PUSH_CHANGE_INVALID: 400,
  PUSH_REJECTED: 422,
  PUSH_PULL_TENANT_REQUIRED: 400,
  PUSH_PULL_TENANT_FORBIDDEN: 403,
  AUDIT_MODEL_NOT_AUDITED: 404,
  AUDIT_CURSOR_INVALID: 400,
  SCHEMA_MISMATCH: 409,
  CQRS_SCHEMA_MISMATCH: 409,
  IMPORT_CONFLICT: 409,
  DANGLING_REFERENCE: 422,
  IMPORT_REJECTED: 422,
  DELETE_REJECTED: 422,
  TRANSPORT_UNAVAILABLE: 503,
  // the client went away (nginx's 499): what the sync log records of a stream left early
  OPERATION_ABORTED: 499,
};

/** The HTTP status an error code answers with (500 for codes without one). */
export function statusOfCode(code: ErrorCode): number {
  return STATUS_OF_CODE[code] ?? 500;
}

/** The JSON body of every error answer: `{"error":{"code","message","info"}}`. */
export interface ErrorBody {
  error: { code: string; message: string; info?: Record<string, unknown> };
}

// `info` goes out as JSON; values JSON cannot carry (bigint, functions, cycles) must not turn an answer into a 500.
function serializableInfo(info: Record<string, unknown>): Record<string, unknown> | undefined {
  if (Object.keys(info).length === 0) return undefined;
  try {
    return JSON.parse(JSON.stringify(info, (_key, value: unknown) =>
      typeof value === 'bigint' ? value.toString() : typeof value === 'function' ? undefined : value)) as Record<string, unknown>;
  } catch {
    return { note: 'info could not be written as JSON' };
  }
}

/**
 * The Response for a failure: an EntitySyncError answers its mapped status with its code, message
 * and info; anything else is reported to `onUnexpected` and answers 500 with a generic message
 * (no stack, no detail). 401 answers carry `WWW-Authenticate: Bearer`.
 */
export function errorResponse(error: unknown, onUnexpected: (error: unknown) => void): Response {
  const known = isEntitySyncError(error) ? error : undefined;
  if (!known) onUnexpected(error);
  const typed = known ?? HttpError.internal();
  const status = statusOfCode(typed.code);
  const body: ErrorBody = { error: { code: typed.code, message: typed.message, info: serializableInfo(typed.info) } };
  const headers = new Headers({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  if (status === 401) {
    headers.set('www-authenticate', typed.code === 'AUTH_INVALID' ? 'Bearer realm="entity-sync", error="invalid_token"' : 'Bearer realm="entity-sync"');
  }
  return new Response(JSON.stringify(body), { status, headers });
}
