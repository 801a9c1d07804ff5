import { OperationError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { rawConnection, type RawConnection } from './raw-connection.js';

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quotes a text value as an SQL string literal, standard-conforming: quotes doubled, backslashes
 * kept as they are (sessions run with standard_conforming_strings on, as `useCanonicalText` sets).
 */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
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
 * The SQL side of one graph operation: runs statements on the driver connection of the
 * operation's transaction, with bind parameters, and counts them, which is how tests prove
 * that walks are set-based.
 */
export class SqlSession {
  /** Statements run so far. */
  statements = 0;

  private constructor(private readonly connection: RawConnection, private readonly signal?: AbortSignal) {}

  /** A session on the transaction `em` is in. */
  static async open(em: EntityManager, signal?: AbortSignal): Promise<SqlSession> {
    return new SqlSession(await rawConnection(em), signal);
  }

  /** Rows of a query, as objects keyed by column alias. */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.checkAborted();
    this.statements += 1;
    return (await this.connection.query<T>(sql, params)).rows;
  }

  /** Runs a statement and returns how many rows it changed. */
  async run(sql: string, params: unknown[] = []): Promise<number> {
    this.checkAborted();
    this.statements += 1;
    return (await this.connection.query(sql, params)).affected;
  }

  /** Streams the text of `COPY (...) TO STDOUT`. */
  copyOut(sql: string): AsyncIterable<string> {
    this.checkAborted();
    this.statements += 1;
    return this.connection.copyOut(sql);
  }

  /** Feeds COPY text to `COPY ... FROM STDIN`. */
  async copyIn(sql: string, text: string): Promise<void> {
    this.checkAborted();
    this.statements += 1;
    await this.connection.copyIn(sql, text);
  }

  /**
   * Session settings that make every value's text form exact and the same on every machine,
   * with `schema` first on the search path so that type names (enums) print unqualified.
   */
  async useCanonicalText(schema: string): Promise<void> {
    await this.run(`SET LOCAL search_path TO ${ident(schema)}, public`);
    await this.run("SET LOCAL TimeZone = 'UTC'");
    await this.run("SET LOCAL DateStyle = 'ISO, YMD'");
    await this.run("SET LOCAL IntervalStyle = 'postgres'");
    await this.run("SET LOCAL bytea_output = 'hex'");
    await this.run('SET LOCAL extra_float_digits = 1');
    await this.run('SET LOCAL standard_conforming_strings = on');
  }

  private checkAborted(): void {
    if (this.signal?.aborted) {
      throw OperationError.aborted(this.signal.reason);
    }
  }
}
