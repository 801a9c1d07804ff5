import amqp from 'amqplib';

/** Deletes a replica service's queues as `RabbitMqTransport.declareQueue` made them (queue, dead letters, delay queues). */
export async function deleteServiceQueues(amqpUrl: string, queue: string, maxAttempts = 5): Promise<void> {
  const model = await amqp.connect(amqpUrl);
  try {
    const channel = await model.createChannel();
    const names = [queue, `${queue}.dead`, ...Array.from({ length: maxAttempts - 1 }, (_, i) => `${queue}.retry.${i + 1}`)];
    for (const name of names) await channel.deleteQueue(name);
  } finally {
    await model.close();
  }
}
