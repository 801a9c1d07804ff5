export { RabbitMqTransport, type RabbitMqTransportOptions, type RabbitMqDeadLetter } from './rabbitmq-transport.js';
export type { RabbitMqQueueType } from './queue-arguments.js';
