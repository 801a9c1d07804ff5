/** SQLSTATE 23503 (foreign_key_violation), as node-postgres and PGlite both report it. */
export function isForeignKeyViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23503';
}

// shared with the PostgreSQL transport, which tells an outage from a failed statement the same way
export { isLostConnection } from '@entity-sync/core';
