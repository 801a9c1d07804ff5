import type { CqrsMessage, MessageHandler, Subscription, Transport } from '@entity-sync/core';

/** A transport that passes everything to another one and adds up how long its publishes took: the relay's time in the broker. */
export class TimedTransport implements Transport {
  /** Seconds spent in `publish` (sending and waiting for the confirms). */
  publishSeconds = 0;
  /** `publish` calls, that is relay batches with something to send. */
  batches = 0;

  constructor(private readonly inner: Transport) {}

  async publish(messages: CqrsMessage[], options?: { queue?: string }): Promise<void> {
    const start = performance.now();
    try {
      await this.inner.publish(messages, options);
    } finally {
      this.publishSeconds += (performance.now() - start) / 1000;
      this.batches += 1;
    }
  }

  subscribe(queue: string, cqrsIds: string[], handler: MessageHandler): Promise<Subscription> {
    return this.inner.subscribe(queue, cqrsIds, handler);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Starts counting from zero. */
  reset(): void {
    this.publishSeconds = 0;
    this.batches = 0;
  }
}
