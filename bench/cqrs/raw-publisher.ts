import amqp from 'amqplib';

/** A message as the raw baseline sends it: the bytes and properties the RabbitMQ transport would send. */
export interface RawMessage {
  routingKey: string;
  body: Buffer;
  messageId: string;
}

const EXCHANGE = 'bench_raw';
const QUEUE = 'bench_raw';

/**
 * The broker's limit for the relay: amqplib on a confirm channel, persistent messages to a
 * durable topic exchange bound to one durable queue, `window` messages in flight, then
 * `waitForConfirms`. What the relay does on top of this is reading and deleting the outbox entries.
 */
export class RawPublisher {
  private constructor(private readonly model: amqp.ChannelModel, private readonly channel: amqp.ConfirmChannel) {}

  static async open(url: string, routingKeys: string[]): Promise<RawPublisher> {
    const model = await amqp.connect(url);
    const channel = await model.createConfirmChannel();
    await channel.assertExchange(EXCHANGE, 'topic', { durable: true });
    await channel.assertQueue(QUEUE, { durable: true });
    for (const key of routingKeys) await channel.bindQueue(QUEUE, EXCHANGE, key);
    return new RawPublisher(model, channel);
  }

  /** Publishes every message, `window` at a time, each window confirmed before the next; returns the seconds. */
  async publish(messages: RawMessage[], window: number): Promise<number> {
    const start = performance.now();
    for (let from = 0; from < messages.length; from += window) {
      for (const message of messages.slice(from, from + window)) {
        const room = this.channel.publish(EXCHANGE, message.routingKey, message.body,
          { persistent: true, contentType: 'application/json', messageId: message.messageId, type: message.routingKey });
        if (!room) await new Promise((resolve) => this.channel.once('drain', resolve));
      }
      await this.channel.waitForConfirms();
    }
    return (performance.now() - start) / 1000;
  }

  /** Messages ready in `queue` (the baseline's by default). */
  async queued(queue = QUEUE): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /** Empties `queue` (the baseline's by default). */
  async purge(queue = QUEUE): Promise<void> {
    await this.channel.purgeQueue(queue);
  }

  async close(): Promise<void> {
    await this.channel.deleteQueue(QUEUE).catch(() => undefined);
    await this.model.close();
  }
}
