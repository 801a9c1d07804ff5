// Node's socket errors, and SQLSTATE class 08 (connection exception) and 57P01-57P03 (the server shut down or is starting).
const LOST_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', '57P01', '57P02', '57P03']);
// node-postgres refuses further queries on a client whose connection broke ("... has encountered a
// connection error and is not queryable"): a transaction that held it when the server went away sees that.
// A pool that cannot hand out a connection in time: knex's words (MikroORM 6), pg-pool's (MikroORM 7).
const LOST_MESSAGES = /Connection terminated|Connection ended unexpectedly|terminating connection|Timeout acquiring a connection|timeout exceeded when trying to connect|the database system is (starting up|shutting down)|encountered a connection error and is not queryable/i;

/** The database went away (refused, reset, shut down): an outage to wait out, not an error of the statement. */
export function isLostConnection(error: unknown): boolean {
  for (let cause = error as { code?: unknown; message?: unknown; cause?: unknown; name?: unknown } | undefined, depth = 0;
    cause && depth < 5; cause = cause.cause as typeof cause, depth++) {
    const code = typeof cause.code === 'string' ? cause.code : '';
    if (LOST_CODES.has(code) || code.startsWith('08') || cause.name === 'ConnectionException') return true;
    if (typeof cause.message === 'string' && LOST_MESSAGES.test(cause.message)) return true;
  }
  return false;
}
