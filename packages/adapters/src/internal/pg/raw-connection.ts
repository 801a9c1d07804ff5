import { Readable } from 'node:stream';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { EntityManager } from '@mikro-orm/core';
import { acquireDriverConnection, transactionConnection } from '../../mikro-orm/extension/compat.js';
import { loadPeer } from '../peer.js';
import { numberPlaceholders } from './sql-placeholders.js';

/** What a statement returns on the raw driver connection. */
export interface RawResult<T> {
  rows: T[];
  affected: number;
}

/**
 * The driver connection under a MikroORM transaction: real bind parameters (nothing inlined
 * into SQL text) and COPY, which is how bulk reads and writes reach the speed of the database.
 * Works on node-postgres (`pg`) and on PGlite.
 */
export interface RawConnection {
  query<T>(sql: string, params: unknown[]): Promise<RawResult<T>>;
  /** Runs `COPY (...) TO STDOUT` and yields its text in chunks. */
  copyOut(sql: string): AsyncIterable<string>;
  /** Runs `COPY (...) TO STDOUT` and yields its bytes (UTF-8) in chunks, a line possibly cut between two. */
  copyOutBytes(sql: string): AsyncIterable<Uint8Array>;
  /** Runs `COPY ... FROM STDIN` fed with `text` (COPY text format). */
  copyIn(sql: string, text: string): Promise<void>;
  /** Whether another transaction can run beside this one (not on PGlite, whose one connection holds one at a time). */
  readonly concurrent: boolean;
  /** Starts `COPY ... FROM STDIN` to be fed piece by piece while the database reads what came before. */
  copyInStream(sql: string): CopyInStream;
  /** Runs statements without parameters one after another in one round trip; returns the rows each changed. */
  batch(statements: string[]): Promise<number[]>;
}

/** An open `COPY ... FROM STDIN`. Nothing else may run on the connection until it is ended or aborted. */
export interface CopyInStream {
  /** Sends COPY text; resolves once the connection can take more. */
  write(text: string): Promise<void>;
  /** Ends the COPY; rejects with the database's error if it refused the rows. */
  end(): Promise<void>;
  /** Cancels the COPY (the database rolls it back) and waits until the connection is free again. */
  abort(reason: Error): Promise<void>;
}

type PgResult = { rows: unknown[]; rowCount: number | null };

interface PgClient {
  query(config: unknown, values?: unknown[]): Promise<{ rows: unknown[]; rowCount: number | null }> | Readable;
}

interface PGliteLike {
  query(sql: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: unknown[]; affectedRows?: number; blob?: Blob }>;
  exec(sql: string): Promise<{ affectedRows?: number }[]>;
  waitReady: Promise<void>;
}

/**
 * The chunks of a COPY's output stream. A reader that stops early (its consumer went away) leaves
 * the rest to be read to the end and dropped: a COPY stream destroyed mid-way stops reading the
 * connection, and the statements after it (the transaction's rollback) would wait behind it for good.
 */
async function* readToEnd<T>(stream: Readable): AsyncGenerator<T> {
  let ended = false;
  try {
    for await (const chunk of stream.iterator({ destroyOnReturn: false })) yield chunk as T;
    ended = true;
  } finally {
    if (!ended && !stream.destroyed) {
      stream.resume();
      await finished(stream).catch(() => undefined);
    }
  }
}

function pgConnection(client: PgClient, copy: typeof import('pg-copy-streams')): RawConnection {
  return {
    concurrent: true,
    async query<T>(sql: string, params: unknown[]) {
      const result = await (client.query({ text: numberPlaceholders(sql), values: params }) as Promise<{ rows: T[]; rowCount: number | null }>);
      return { rows: result.rows, affected: result.rowCount ?? 0 };
    },
    async *copyOut(sql: string) {
      const stream = client.query(copy.to(sql)) as Readable;
      stream.setEncoding('utf8');
      yield* readToEnd<string>(stream);
    },
    async *copyOutBytes(sql: string) {
      yield* readToEnd<Uint8Array>(client.query(copy.to(sql)) as Readable);
    },
    async copyIn(sql: string, text: string) {
      const stream = client.query(copy.from(sql)) as unknown as NodeJS.WritableStream;
      const done = Promise.race([once(stream, 'finish'), once(stream, 'error').then(([error]) => Promise.reject(error))]);
      stream.end(text);
      await done;
    },
    copyInStream(sql: string) {
      const stream = client.query(copy.from(sql)) as unknown as NodeJS.WritableStream & Readable;
      let failure: Error | undefined;
      const failed = once(stream, 'error').then(([error]) => {
        failure = error as Error;
        throw error;
      });
      failed.catch(() => undefined);
      return {
        async write(text: string) {
          if (failure) throw failure;
          if (!stream.write(text)) await Promise.race([once(stream, 'drain'), failed]);
        },
        async end() {
          stream.end();
          await Promise.race([once(stream, 'finish'), failed]);
        },
        async abort(reason: Error) {
          if (failure) return;
          const closed = once(stream, 'close').catch(() => undefined);
          stream.destroy(reason);
          await closed;
        },
      };
    },
    async batch(statements: string[]) {
      // no parameters: the simple query protocol, which takes several statements at once
      const result = await (client.query(statements.join(';\n')) as Promise<PgResult | PgResult[]>);
      return (Array.isArray(result) ? result : [result]).map((one) => one.rowCount ?? 0);
    },
  };
}

function pgliteConnection(pglite: PGliteLike): RawConnection {
  return {
    concurrent: false,
    async query<T>(sql: string, params: unknown[]) {
      const result = await pglite.query(numberPlaceholders(sql), params);
      return { rows: result.rows as T[], affected: result.affectedRows ?? 0 };
    },
    // PGlite runs COPY through an in-memory blob: one statement's output is held at once.
    async *copyOut(sql: string) {
      const result = await pglite.query(sql.replace(/TO STDOUT$/, "TO '/dev/blob'"));
      if (result.blob) yield await result.blob.text();
    },
    async *copyOutBytes(sql: string) {
      const result = await pglite.query(sql.replace(/TO STDOUT$/, "TO '/dev/blob'"));
      if (result.blob) yield new Uint8Array(await result.blob.arrayBuffer());
    },
    async copyIn(sql: string, text: string) {
      await pglite.query(sql.replace(/FROM STDIN$/, "FROM '/dev/blob'"), [], { blob: new Blob([text]) });
    },
    // PGlite reads COPY from an in-memory blob and runs in this process: each piece is a COPY of its own,
    // so that memory holds one piece, and there is no other core to read on meanwhile anyway.
    copyInStream(sql: string) {
      return {
        async write(text: string) {
          await pglite.query(sql.replace(/FROM STDIN$/, "FROM '/dev/blob'"), [], { blob: new Blob([text]) });
        },
        async end() {},
        async abort() {},
      };
    },
    async batch(statements: string[]) {
      return (await pglite.exec(statements.join(';\n'))).map((one) => one.affectedRows ?? 0);
    },
  };
}

/** The raw connection of the transaction `em` is in. */
export async function rawConnection(em: EntityManager): Promise<RawConnection> {
  const connection = await transactionConnection(em);
  if (typeof (connection as PGliteLike).waitReady === 'object' && typeof (connection as { exec?: unknown }).exec === 'function') {
    return pgliteConnection(connection as PGliteLike);
  }
  return pgConnection(connection as PgClient, await loadPeer<typeof import('pg-copy-streams')>('pg-copy-streams', 'COPY on PostgreSQL (graph export and import, CQRS repair)'));
}

/**
 * Calls `onNotify` with the payload of every NOTIFY of `channel` until the returned function is called. On
 * node-postgres it holds one pool connection for LISTEN; when that connection breaks (a restart
 * of the server), `onLost` is told, a new one listens again with a bounded backoff, and
 * `onNotify` is called once it does, without a payload, since notifications sent in between were lost. PGlite
 * listens on its single instance.
 */
export async function listenOn(em: EntityManager, channel: string, onNotify: (payload?: string) => void,
  onLost: (error: Error) => void = () => {}): Promise<() => Promise<void>> {
  const first = await acquireDriverConnection(em);
  const pglite = first.connection as { listen?: (channel: string, callback: (payload: string) => void) => Promise<() => Promise<void>>; waitReady?: unknown };
  if (typeof pglite.listen === 'function' && pglite.waitReady) {
    const unlisten = await pglite.listen(channel, (payload) => onNotify(payload));
    await first.release();
    return unlisten;
  }
  type Client = { query(sql: string): Promise<unknown>; on(event: string, listener: (arg: never) => void): void;
    removeListener(event: string, listener: (arg: never) => void): void };
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let current: { client: Client; release(): Promise<void>; forget(): void } | undefined;
  const listen = async (acquired: { connection: unknown; release(): Promise<void> }) => {
    const client = acquired.connection as Client;
    const notification = (message: { channel: string; payload?: string }) => {
      if (message.channel === channel) onNotify(message.payload ?? '');
    };
    const lost = (error?: Error) => {
      if (current?.client !== client) return;
      current.forget();
      current = undefined;
      void acquired.release().catch(() => undefined);
      onLost(error ?? new Error(`the connection listening on ${channel} ended`));
      if (!stopped) again(1);
    };
    const forget = () => {
      client.removeListener('notification', notification as never);
      client.removeListener('error', lost as never);
      client.removeListener('end', lost as never);
    };
    client.on('notification', notification as never);
    client.on('error', lost as never);
    client.on('end', lost as never);
    current = { client, release: acquired.release, forget };
    try {
      await client.query(`LISTEN "${channel}"`);
    } catch (error) {
      current = undefined;
      forget();
      await acquired.release().catch(() => undefined);
      throw error;
    }
  };
  const again = (attempt: number) => {
    retry = setTimeout(() => {
      acquireDriverConnection(em).then(listen).then(() => {
        if (stopped) return stop();
        onNotify();
      }, (error: Error) => {
        onLost(error);
        if (!stopped) again(attempt + 1);
      });
    }, Math.min(5000, 100 * 2 ** (attempt - 1)));
    // an ORM closed without stopping its listener must not be kept alive by these retries
    retry.unref();
  };
  const stop = async () => {
    stopped = true;
    clearTimeout(retry);
    const listening = current;
    current = undefined;
    if (!listening) return;
    listening.forget();
    await listening.client.query(`UNLISTEN "${channel}"`).catch(() => undefined);
    await listening.release();
  };
  await listen(first);
  return stop;
}
