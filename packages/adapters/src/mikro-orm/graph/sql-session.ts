import { EntitySyncError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { executeSql } from '../compat.js';

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Encodes values as a PostgreSQL array literal (`{"a","b",NULL}`), to pass a whole column as one parameter. */
export function arrayLiteral(values: readonly (string | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) out += ',';
    out += value === null || value === undefined ? 'NULL' : `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  }
  return `${out}}`;
}

/**
 * The SQL side of one graph operation: runs statements in the operation's transaction and
 * counts them, which is how tests prove that walks are set-based.
 */
export class SqlSession {
  /** Statements run so far. */
  statements = 0;

  constructor(readonly em: EntityManager, private readonly signal?: AbortSignal) {}

  /** Rows of a query, as objects keyed by column alias. */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.checkAborted();
    this.statements += 1;
    return executeSql<T[]>(this.em, sql, params, 'all');
  }

  /** Runs a statement and returns how many rows it changed. */
  async run(sql: string, params: unknown[] = []): Promise<number> {
    this.checkAborted();
    this.statements += 1;
    const result = await executeSql<{ affectedRows?: number }>(this.em, sql, params, 'run');
    return result.affectedRows ?? 0;
  }

  /** Session settings that make every value's text form exact and the same on every machine. */
  async useCanonicalText(): Promise<void> {
    await this.run("SET LOCAL TimeZone = 'UTC'");
    await this.run("SET LOCAL DateStyle = 'ISO, YMD'");
    await this.run("SET LOCAL IntervalStyle = 'postgres'");
    await this.run("SET LOCAL bytea_output = 'hex'");
    await this.run('SET LOCAL extra_float_digits = 1');
  }

  private checkAborted(): void {
    if (this.signal?.aborted) {
      throw new EntitySyncError('OPERATION_ABORTED', 'The operation was aborted; the transaction was rolled back and nothing was written.',
        { cause: this.signal.reason });
    }
  }
}
