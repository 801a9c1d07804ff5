// The driver connections of MikroORM 7, which runs SQL through kysely instead of knex: what
// compat.ts hands the raw-statement code on that major. Only compat.ts imports this file.
import { SetupError } from '@entity-sync/core';
import type { EntityManager, MikroORM } from '@mikro-orm/core';

interface PgliteTransaction {
  query(sql: string, params?: unknown[], options?: object): Promise<unknown>;
  exec(sql: string, options?: object): Promise<unknown>;
}

interface PgliteInstance extends PgliteTransaction {
  waitReady: Promise<void>;
  transaction<T>(callback: (tx: PgliteTransaction) => Promise<T>): Promise<T>;
}

interface PgPool {
  connect(): Promise<PgPoolClient>;
  /** pg-pool's list of its open clients (not typed by pg, stable since pg-pool 2). */
  _clients?: PgPoolClient[];
}

interface PgPoolClient {
  processID?: number;
  release(error?: Error | boolean): void;
}

interface NativeConnection {
  getNativeClient(): Promise<unknown>;
  connect(...args: unknown[]): Promise<void>;
  execute(sql: string, params: unknown[], method: 'all', ctx?: unknown): Promise<unknown>;
}

const isPglite = (native: unknown): native is PgliteInstance =>
  typeof native === 'object' && native !== null && typeof (native as PgliteInstance).waitReady === 'object' &&
  typeof (native as PgliteInstance).transaction === 'function';

const connectionOf = (em: EntityManager) => em.getConnection() as unknown as NativeConnection;

// The transaction the ORM has open on a PGlite instance, kept on the instance. The PGlite driver
// runs every ORM transaction as PGlite's exclusive `transaction()`: while it is open, a statement
// sent to the instance itself waits for it to end, so raw statements of the transaction go to this
// object. Global symbols, so that every copy of this module (and of the package) sees the same.
const RECORDS = Symbol.for('@entity-sync/adapters.pglite-records-transactions');
const OPEN = Symbol.for('@entity-sync/adapters.pglite-open-transaction');
type Recorded = PgliteInstance & { [RECORDS]?: true; [OPEN]?: PgliteTransaction };

function recordTransactions<T>(pglite: T): T {
  if (!isPglite(pglite) || (pglite as Recorded)[RECORDS]) return pglite;
  const instance: Recorded = pglite;
  const transaction = instance.transaction;
  const recording = <R>(callback: (tx: PgliteTransaction) => Promise<R>) => transaction.call(instance, async (tx: PgliteTransaction) => {
    instance[OPEN] = tx;
    try {
      return await callback(tx);
    } finally {
      if (instance[OPEN] === tx) instance[OPEN] = undefined;
    }
  });
  Object.defineProperty(instance, 'transaction', { value: recording, configurable: true, writable: true });
  Object.defineProperty(instance, OPEN, { value: undefined, writable: true });
  Object.defineProperty(instance, RECORDS, { value: true });
  return pglite;
}

const isPgliteConnection = (connection: object): boolean => {
  for (let proto = Object.getPrototypeOf(connection); proto; proto = Object.getPrototypeOf(proto)) {
    if (proto.constructor?.name === 'PgliteConnection') return true;
  }
  return false;
};

/**
 * Makes the ORM's PGlite transactions reachable by raw statements. Must run before the ORM
 * first connects (from `EntitySync.register`, or `attach` right after `MikroORM.init`): the
 * driver binds the instance's `transaction` when it connects. No-op on other drivers.
 */
export function recordPgliteTransactions(orm: MikroORM): void {
  const connection = (orm as unknown as { driver: { getConnection(): NativeConnection } }).driver.getConnection();
  if (!isPgliteConnection(connection) || (connection as { [RECORDS]?: true })[RECORDS]) return;
  Object.defineProperty(connection, RECORDS, { value: true });
  const options = orm.config.get('driverOptions') as { pglite?: unknown } | undefined;
  // an instance the app passes in: wrapped where the driver reads it (the object the connection holds too)
  if (options?.pglite) {
    const given = options.pglite;
    options.pglite = typeof given === 'function' ? async (...args: unknown[]) => recordTransactions(await given(...args)) : recordTransactions(given);
  }
  // an instance the driver creates: the driver calls its `transaction` as a method, so it is wrapped once it exists
  const connect = connection.connect;
  connection.connect = async function (this: NativeConnection, ...args: unknown[]) {
    await connect.apply(this, args);
    recordTransactions(await this.getNativeClient());
  };
}

/** The driver connection of the transaction `em` is in: a `pg` client, or an object shaped like the PGlite instance. */
export async function transactionConnectionV7(em: EntityManager): Promise<unknown> {
  const ctx = em.getTransactionContext();
  if (!ctx) throw new Error('a transaction is required for raw statements');
  const connection = connectionOf(em);
  const native = await connection.getNativeClient();
  if (isPglite(native)) {
    const tx = (native as Recorded)[OPEN];
    if (!tx) {
      throw SetupError.attachedTooLate();
    }
    // shaped like the instance (raw-connection tells PGlite from pg by `waitReady` and `exec`)
    return { query: tx.query.bind(tx), exec: tx.exec.bind(tx), waitReady: Promise.resolve() };
  }
  // pg: the pool client whose backend runs this transaction
  const [row] = await connection.execute('select pg_backend_pid() as pid', [], 'all', ctx) as { pid: number | string }[];
  const client = (native as PgPool)._clients?.find((candidate) => candidate.processID === Number(row?.pid));
  if (!client) throw new Error(`the pg client of backend ${row?.pid} is not in the ORM's pool`);
  return client;
}

/** A driver connection taken out of the ORM's pool, outside any transaction (the PGlite instance itself on PGlite). */
export async function acquireDriverConnectionV7(em: EntityManager): Promise<{ connection: unknown; release(): Promise<void> }> {
  const native = await connectionOf(em).getNativeClient();
  if (isPglite(native)) return { connection: native, release: async () => {} };
  const client = await (native as PgPool).connect();
  return { connection: client, release: async () => client.release() };
}
