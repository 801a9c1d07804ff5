import { EntitySyncError, type AdministeredTransport } from '@entity-sync/core';

/** What the cqrs commands can do with a built-in transport: `Transport` and every `TransportAdmin` method. */
export type OpenedTransport = AdministeredTransport;

/** Retry settings the cqrs commands pass to the transport they open. */
export interface RetrySettings {
  /** Attempts before a message goes to the dead letters (transport default 5). */
  maxAttempts?: number;
  /** Retry n waits `retryDelayMs * 2^(n-1)` (transport default 200). */
  retryDelayMs?: number;
}

/**
 * Opens the transport a URL names: `amqp://` / `amqps://` for RabbitMQ, `postgres://` /
 * `postgresql://` for the PostgreSQL message table (installed on first use).
 */
export async function openTransport(url: string | undefined, retries: RetrySettings = {}): Promise<OpenedTransport> {
  if (!url) {
    throw new EntitySyncError('USAGE', 'No transport: pass --transport <url> (amqp://... or postgres://...) or set ENTITY_SYNC_TRANSPORT.');
  }
  if (/^amqps?:\/\//.test(url)) {
    const { RabbitMqTransport } = await import('../rabbitmq/rabbitmq-transport.js');
    // many deliveries in flight, so that a busy consumer applies what is waiting in one transaction
    return new RabbitMqTransport({ url, prefetch: 400, concurrency: 200, ...retries, onError: (error) => process.stderr.write(`transport: ${(error as Error).message}\n`) });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const [{ default: pg }, { PostgresTransport }, { pgClient }] = await Promise.all([
      import('pg'), import('../postgres/postgres-transport.js'), import('../postgres/sql-client.js')]);
    const transport = new PostgresTransport(pgClient(new pg.Pool({ connectionString: url, max: 8 }), true), { concurrency: 200, ...retries });
    await transport.install();
    return transport;
  }
  throw new EntitySyncError('USAGE', `Unknown transport URL '${url.replace(/\/\/[^@/]*@/, '//***@')}': use amqp://... (RabbitMQ) or postgres://... (PostgreSQL).`);
}
