/** SQLSTATE 23503 (foreign_key_violation), as node-postgres and PGlite both report it. */
export function isForeignKeyViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23503';
}
