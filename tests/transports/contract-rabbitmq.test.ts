// The transport contract on the RabbitMQ transport, against the process's RabbitMQ node, which the
// outage hook stops and starts. A crash is a close(): the broker requeues what the closed
// connection held unacknowledged. A raw body is published to the exchange with amqplib itself.
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import { allAdmin, rabbitMqAvailable, rabbitMqBroker, transportContract, type RabbitMqBroker } from '@entity-sync/testing';
import { createRequire } from 'node:module';

const amqp = createRequire(new URL('../../packages/adapters/package.json', import.meta.url))('amqplib') as typeof import('amqplib');
const exchange = 'entity_sync_contract';

if (rabbitMqAvailable()) {
  let broker: RabbitMqBroker;
  transportContract({
    name: 'rabbitmq',
    setUp: async () => {
      broker = await rabbitMqBroker();
    },
    open: async ({ maxAttempts, retryDelayMs }) => new RabbitMqTransport({ url: broker.url, exchange, maxAttempts, retryDelayMs, reconnectDelayMs: 100 }),
    admin: allAdmin,
    outage: { stop: () => broker.stop(), start: () => broker.resume() },
    crash: (transport) => transport.close(),
    injectRawBody: async (_, __, cqrsId, body) => {
      const connection = await amqp.connect(broker.url);
      try {
        const channel = await connection.createConfirmChannel();
        channel.publish(exchange, cqrsId, body, { persistent: true, type: cqrsId });
        await channel.waitForConfirms();
      } finally {
        await connection.close();
      }
    },
  });
}
