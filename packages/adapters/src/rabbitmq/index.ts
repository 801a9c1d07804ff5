export { RabbitMqTransport, type RabbitMqTransportOptions, type RabbitMqDeadLetter } from './rabbitmq-transport.js';
