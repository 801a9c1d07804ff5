import type { CqrsMessage, MessageHandler, Subscription, Transport } from '@entity-sync/core';

/** Faults to inject, so that tests see what real brokers do. */
export interface MemoryFaults {
  /** Deliver every message twice. */
  duplicate?: boolean;
  /** Deliver each published batch in reverse order. */
  reverse?: boolean;
}

/** Options of the memory transport. */
export interface MemoryTransportOptions {
  /** Attempts before a failing message goes to the dead letters. Default 3. */
  maxAttempts?: number;
  faults?: MemoryFaults;
}

/** A message that failed every attempt, with the last error. */
export interface DeadLetter {
  queue: string;
  message: CqrsMessage;
  error: Error;
  attempts: number;
}

interface Queue {
  cqrsIds: Set<string>;
  pending: CqrsMessage[];
  consumers: Set<Consumer>;
}

interface Consumer {
  handler: MessageHandler;
  running?: Promise<void>;
}

/**
 * An in-process transport for tests and single-process apps: durable queues per replica service
 * (declared by `declareQueue` or the first `subscribe`), competing consumers on a queue, retries, a
 * dead letter list, unroutable messages kept until a queue takes them, and injectable faults
 * (duplicates, reordering).
 */
export class MemoryTransport implements Transport {
  readonly deadLetters: DeadLetter[] = [];
  /** Messages published while no queue took their CQRS id: delivered to the first queue declared for it. */
  readonly unroutable: CqrsMessage[] = [];
  private readonly queues = new Map<string, Queue>();
  private readonly maxAttempts: number;

  constructor(private readonly options: MemoryTransportOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  async publish(messages: CqrsMessage[], options: { queue?: string } = {}): Promise<void> {
    const batch = this.options.faults?.reverse ? [...messages].reverse() : messages;
    for (const message of batch) {
      let routed = false;
      for (const [name, queue] of this.queues) {
        if ((options.queue !== undefined && options.queue !== name) || !queue.cqrsIds.has(message.cqrsId)) continue;
        routed = true;
        queue.pending.push(structuredClone(message));
        if (this.options.faults?.duplicate) queue.pending.push(structuredClone(message));
      }
      if (!routed && options.queue === undefined) this.unroutable.push(structuredClone(message));
    }
    for (const queue of this.queues.values()) this.pumpAll(queue);
  }

  /** Creates the queue of a replica service (or adds CQRS ids to it); it keeps messages until consumed. */
  async declareQueue(name: string, cqrsIds: string[]): Promise<void> {
    const queue = this.queues.get(name) ?? { cqrsIds: new Set<string>(), pending: [], consumers: new Set<Consumer>() };
    for (const id of cqrsIds) queue.cqrsIds.add(id);
    this.queues.set(name, queue);
    const taken = this.unroutable.filter((message) => queue.cqrsIds.has(message.cqrsId));
    if (taken.length) {
      this.unroutable.splice(0, this.unroutable.length, ...this.unroutable.filter((message) => !queue.cqrsIds.has(message.cqrsId)));
      queue.pending.push(...taken);
    }
    this.pumpAll(queue);
  }

  async subscribe(name: string, cqrsIds: string[], handler: MessageHandler): Promise<Subscription> {
    await this.declareQueue(name, cqrsIds);
    const queue = this.queues.get(name)!;
    const consumer: Consumer = { handler };
    queue.consumers.add(consumer);
    this.pump(name, queue, consumer);
    return {
      stop: async () => {
        queue.consumers.delete(consumer);
        await consumer.running;
      },
    };
  }

  /** Resolves once every queue with a consumer has handled everything published so far. */
  async drain(): Promise<void> {
    const busy = () => [...this.queues.values()].flatMap((queue) => [...queue.consumers]).filter((consumer) => consumer.running);
    while (busy().length) await Promise.all(busy().map((consumer) => consumer.running));
  }

  /** Publishes the dead letters again (after a fix), to their own queues, and empties the list. */
  async retryDeadLetters(): Promise<number> {
    const letters = this.deadLetters.splice(0);
    for (const letter of letters) await this.publish([letter.message], { queue: letter.queue });
    return letters.length;
  }

  /** Drops the dead letters. */
  purgeDeadLetters(): number {
    return this.deadLetters.splice(0).length;
  }

  async close(): Promise<void> {
    await this.drain();
    this.queues.clear();
  }

  private pumpAll(queue: Queue): void {
    const name = [...this.queues].find(([, candidate]) => candidate === queue)?.[0];
    if (name === undefined) return;
    for (const consumer of queue.consumers) this.pump(name, queue, consumer);
  }

  // Each consumer takes one message at a time from its queue, in arrival order, as a broker
  // consumer with prefetch 1 does; several consumers of one queue compete for its messages.
  private pump(name: string, queue: Queue, consumer: Consumer): void {
    // with nothing to take, the loop below would end before `running` is even assigned
    if (consumer.running || !queue.pending.length) return;
    consumer.running = (async () => {
      while (queue.consumers.has(consumer)) {
        const message = queue.pending.shift();
        if (!message) break;
        for (let attempt = 1; ; attempt++) {
          try {
            await consumer.handler(message);
            break;
          } catch (error) {
            if (attempt >= this.maxAttempts) {
              this.deadLetters.push({ queue: name, message, error: error as Error, attempts: attempt });
              break;
            }
          }
        }
      }
      consumer.running = undefined;
    })();
  }
}
