import { EntitySyncError } from './entity-sync-error.js';

/** What a PostgreSQL error says about itself (node-postgres and PGlite errors carry these fields). */
export interface DatabaseErrorFacts {
  /** The server's message, without the statement some drivers put before it. */
  message: string;
  /** SQLSTATE (`23503`, `22P02`...). */
  code: string;
  schema?: string;
  table?: string;
  column?: string;
  constraint?: string;
  detail?: string;
  hint?: string;
  /** Where the server raised it (`PL/pgSQL function f() line 3 at RAISE`): names the trigger that refused. */
  where?: string;
}

// SQLSTATE classes are digits or one of these; Node's system errors (EPERM...) are not.
const SQLSTATE = /^(?:[0-9]{2}|P0|F0|HV|XX)[0-9A-Z]{3}$/;
// knex-style messages start with the failed statement and ' - '
const STATEMENT_PREFIX = /^\s*(?:select|insert|update|delete|with|copy|create|drop|alter|set|analyze|commit|begin|savepoint|release|rollback)\b[\s\S]*? - /i;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/** The facts of a database error, or undefined when `error` did not come from the database. */
export function databaseErrorFacts(error: unknown): DatabaseErrorFacts | undefined {
  if (typeof error !== 'object' || error === null || error instanceof EntitySyncError) return undefined;
  const fields = error as Record<string, unknown>;
  const code = [fields.code, fields.sqlState].find((value): value is string => typeof value === 'string' && SQLSTATE.test(value));
  if (!code || 'syscall' in fields) return undefined;
  const full = text(fields.message) ?? '';
  return {
    message: full.replace(STATEMENT_PREFIX, '').trim(),
    code,
    schema: text(fields.schema),
    table: text(fields.table),
    column: text(fields.column),
    constraint: text(fields.constraint),
    detail: text(fields.detail),
    hint: text(fields.hint),
    where: text(fields.where),
  };
}

/** `message [SQLSTATE 23503, table x, column y, constraint z]. detail` for an error message. */
export function describeDatabaseError(facts: DatabaseErrorFacts): string {
  const where = [
    `SQLSTATE ${facts.code}`,
    facts.table && `table ${facts.schema ? `${facts.schema}.` : ''}${facts.table}`,
    facts.column && `column ${facts.column}`,
    facts.constraint && `constraint ${facts.constraint}`,
  ].filter(Boolean).join(', ');
  const detail = [facts.detail, facts.hint].filter(Boolean).join(' ');
  return `${facts.message} [${where}]${detail ? `. ${detail.replace(/\.$/, '')}` : ''}`;
}
