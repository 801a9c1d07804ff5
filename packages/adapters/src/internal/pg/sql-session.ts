import { OperationError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { rawConnection, type CopyInStream, type RawConnection } from './raw-connection.js';

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

/** Options of `SqlSession.useCanonicalText`. */
export interface CanonicalTextOptions {
  /**
   * Joins of small key sets with large tables should look rows up by index: with the default cost of
   * a random page (4, a spinning disk's) the planner reads whole cached tables instead.
   */
  indexLookups?: boolean;
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

  /** Whether another transaction can run beside this session's (not on PGlite). */
  get concurrent(): boolean {
    return this.connection.concurrent;
  }

  /** Rows of a query, as objects keyed by column alias. */
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    this.checkAborted();
    this.statements += 1;
    return (await this.connection.query<T>(sql, params)).rows;
  }

  /** Whether the table (or view) `name` names, as SQL would (`"schema"."table"`), exists. */
  async tableExists(name: string): Promise<boolean> {
    const [found] = await this.query<{ present: boolean }>('SELECT to_regclass(?) IS NOT NULL AS present', [name]);
    return !!found?.present;
  }

  /** Runs a statement and returns how many rows it changed. */
  async run(sql: string, params: unknown[] = []): Promise<number> {
    this.checkAborted();
    this.statements += 1;
    return (await this.connection.query(sql, params)).affected;
  }

  /**
   * Runs statements without parameters one after another in one round trip, each counted, and
   * returns how many rows each changed: for steps that need no answer in between.
   */
  async runBatch(statements: string[]): Promise<number[]> {
    if (statements.length === 0) return [];
    this.checkAborted();
    this.statements += statements.length;
    const changed = await this.connection.batch(statements);
    if (changed.length !== statements.length) throw new Error(`${statements.length} statements sent in one round trip, ${changed.length} answers`);
    return changed;
  }

  /** Streams the text of `COPY (...) TO STDOUT`. */
  copyOut(sql: string): AsyncIterable<string> {
    this.checkAborted();
    this.statements += 1;
    return this.connection.copyOut(sql);
  }

  /** Streams the bytes of `COPY (...) TO STDOUT` (UTF-8; a chunk may end inside a line). */
  copyOutBytes(sql: string): AsyncIterable<Uint8Array> {
    this.checkAborted();
    this.statements += 1;
    return this.connection.copyOutBytes(sql);
  }

  /** Feeds COPY text to `COPY ... FROM STDIN`. */
  async copyIn(sql: string, text: string): Promise<void> {
    this.checkAborted();
    this.statements += 1;
    await this.connection.copyIn(sql, text);
  }

  /** Starts `COPY ... FROM STDIN`, fed piece by piece; nothing else may run until it is ended or aborted. */
  copyInStream(sql: string): CopyInStream {
    this.checkAborted();
    this.statements += 1;
    return this.connection.copyInStream(sql);
  }

  /**
   * Session settings that make every value's text form exact and the same on every machine,
   * with `schema` first on the search path so that type names (enums) print unqualified.
   */
  async useCanonicalText(schema: string, options: CanonicalTextOptions = {}): Promise<void> {
    // one round trip: set_config(..., true) is SET LOCAL
    const settings: [string, string][] = [['search_path', `${ident(schema)}, public`], ['TimeZone', 'UTC'], ['DateStyle', 'ISO, YMD'],
      ['IntervalStyle', 'postgres'], ['bytea_output', 'hex'], ['extra_float_digits', '1'], ['standard_conforming_strings', 'on']];
    const values = settings.map(([name, value]) => `set_config(${literal(name)}, ${literal(value)}, true)`);
    // lowered, never raised: a server tuned lower keeps its own figure
    if (options.indexLookups) values.push(`set_config('random_page_cost', least(current_setting('random_page_cost')::float8, 1.1)::text, true)`);
    await this.query(`SELECT ${values.join(', ')}`);
  }

  private checkAborted(): void {
    if (this.signal?.aborted) {
      throw OperationError.aborted(this.signal.reason);
    }
  }
}
