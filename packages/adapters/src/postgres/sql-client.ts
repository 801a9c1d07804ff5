import type { Pool } from 'pg';

/** The few things the PostgreSQL transport asks of a connection: queries and notifications. */
export interface SqlClient {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Calls `onNotify` on every NOTIFY of `channel`; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** A node-postgres pool; LISTEN holds one connection of its own. */
export function pgClient(pool: Pool, owned = false): SqlClient {
  return {
    async query<T>(sql: string, params: unknown[] = []) {
      return (await pool.query(sql, params)).rows as T[];
    },
    async listen(channel, onNotify) {
      const connection = await pool.connect();
      connection.on('notification', (message) => {
        if (message.channel === channel) onNotify();
      });
      await connection.query(`LISTEN ${channel}`);
      return async () => {
        await connection.query(`UNLISTEN ${channel}`).catch(() => undefined);
        connection.release();
      };
    },
    async close() {
      if (owned) await pool.end();
    },
  };
}

interface PGliteLike {
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}

/** An embedded PGlite instance (one connection: every statement here is a single autocommitted one). */
export function pgliteClient(pglite: PGliteLike): SqlClient {
  return {
    async query<T>(sql: string, params: unknown[] = []) {
      return (await pglite.query<T>(sql, params)).rows;
    },
    listen: (channel, onNotify) => pglite.listen(channel, () => onNotify()),
    async close() {},
  };
}
