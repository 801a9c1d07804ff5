import { CqrsError } from '@entity-sync/core';
import { literal, type SqlSession } from '../../internal/pg/sql-session.js';

/** Throws `CQRS_NOT_INSTALLED` naming what to run when one of `tables` does not exist in the ORM's schema. */
export async function requireTables(session: SqlSession, schema: string, tables: string[], install: string): Promise<void> {
  const [row] = await session.query<{ missing: string[] }>(
    `SELECT array_agg(t) FILTER (WHERE to_regclass(${literal(schema)} || '.' || t) IS NULL) AS missing FROM unnest(?::text[]) t`,
    [`{${tables.join(',')}}`]);
  if (row?.missing?.length) {
    throw CqrsError.notInstalled(schema, row.missing, install);
  }
}
