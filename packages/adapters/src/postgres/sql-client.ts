import type { Pool, PoolClient } from 'pg';

/** The few things the PostgreSQL transport asks of a connection: queries and notifications. */
export interface SqlClient {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Calls `onNotify` on every NOTIFY of `channel`; resolves to an unsubscribe function. */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** A node-postgres pool; LISTEN holds one connection of its own. */
export function pgClient(pool: Pool, owned = false): SqlClient {
  // an idle connection that breaks emits 'error' on the pool: without a listener that ends the process
  if (pool.listenerCount('error') === 0) {
    pool.on('error', (error) => console.warn(`entity-sync: an idle PostgreSQL connection broke (${error.message}); the pool opens a new one`));
  }
  return {
    async query<T>(sql: string, params: unknown[] = []) {
      return (await pool.query(sql, params)).rows as T[];
    },
    // LISTEN holds a connection of its own. When it breaks (a restart of the server), the pool is told
    // to drop it, and a new one listens again, with a bounded backoff; once it does, `onNotify` is
    // called, since notifications sent in between were lost.
    async listen(channel, onNotify) {
      let stopped = false;
      let connection: PoolClient | undefined;
      let retry: NodeJS.Timeout | undefined;
      const released = new WeakSet<PoolClient>();
      // a client goes back to the pool once: destroyed when it failed, kept when it did not
      const release = (client: PoolClient, error?: Error) => {
        if (released.has(client)) return;
        released.add(client);
        client.release(error);
      };
      const connect = async (): Promise<PoolClient> => {
        const client = await pool.connect();
        client.on('notification', (message) => {
          if (message.channel === channel) onNotify();
        });
        client.on('error', (error) => {
          const listening = connection === client;
          release(client, error);
          if (listening) connection = undefined;
          if (listening && !stopped) again(1);
        });
        try {
          await client.query(`LISTEN ${channel}`);
        } catch (error) {
          release(client, error as Error);
          throw error;
        }
        return client;
      };
      const again = (attempt: number) => {
        retry = setTimeout(() => {
          connect().then((client) => {
            if (stopped) return release(client);
            connection = client;
            onNotify();
          }, (error: Error) => {
            console.warn(`entity-sync: LISTEN ${channel} failed (${error.message}); retrying`);
            if (!stopped) again(attempt + 1);
          });
        }, Math.min(5000, 100 * 2 ** (attempt - 1)));
        retry.unref();
      };
      connection = await connect();
      return async () => {
        stopped = true;
        clearTimeout(retry);
        const client = connection;
        connection = undefined;
        if (!client) return;
        await client.query(`UNLISTEN ${channel}`).then(() => release(client), (error: Error) => release(client, error));
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
