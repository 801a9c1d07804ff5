import { CommandLineError, SetupError, type AdministeredTransport, type TransportSettings } from '@entity-sync/core';
import type { RabbitMqQueueType } from '@entity-sync/adapters/rabbitmq';

/** What the cqrs commands can do with a built-in transport: `Transport` and every `TransportAdmin` method. */
export type OpenedTransport = AdministeredTransport;

/** A transport URL with its credentials masked, fit for a log line. */
export const redactUrl = (url: string | undefined) => (url ?? '').replace(/\/\/[^@/]*@/, '//***@');

/**
 * Opens the transport a URL names: `amqp://` / `amqps://` for RabbitMQ (a cluster as
 * comma-separated hosts, `amqp://user:password@node1,node2,node3/vhost`; `?queueType=quorum`
 * for quorum queues), `postgres://` / `postgresql://` for the PostgreSQL message table
 * (installed on first use).
 */
export async function openTransport(url: string, settings: TransportSettings): Promise<OpenedTransport> {
  const { onError, ...retries } = settings;
  if (/^amqps?:\/\//.test(url)) {
    const { RabbitMqTransport } = await import('@entity-sync/adapters/rabbitmq');
    // many deliveries in flight, so that a busy consumer applies what is waiting in one transaction
    // the transport checks queueType and says which values it takes
    const { url: nodes, queueType } = queueTypeParameter(url);
    return new RabbitMqTransport({ url: nodes, queueType: queueType as RabbitMqQueueType | undefined, prefetch: 400, concurrency: 200, ...retries, onError });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const [{ default: pg }, { PostgresTransport, pgClient }] = await Promise.all([import('pg').catch((error: unknown) => {
      throw SetupError.peerMissing('pg', 'A postgres:// transport', error);
    }), import('@entity-sync/adapters/postgres')]);
    const transport = new PostgresTransport(pgClient(new pg.Pool({ connectionString: url, max: 8 }), true), { concurrency: 200, ...retries });
    await transport.install();
    return transport;
  }
  throw CommandLineError.unknownTransportUrl(redactUrl(url));
}

// `?queueType=` is the transport's option, not the broker's: taken out of the URL amqplib sees.
function queueTypeParameter(url: string): { url: string; queueType?: string } {
  const [base, query] = url.split(/\?(.*)/s, 2) as [string, string | undefined];
  if (query === undefined) return { url };
  const params = new URLSearchParams(query);
  const queueType = params.get('queueType') ?? undefined;
  params.delete('queueType');
  const rest = params.toString();
  return { url: rest ? `${base}?${rest}` : base, queueType };
}
