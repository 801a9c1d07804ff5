import type { AdministeredTransport, CqrsMessage, MessageHandler, Subscription, TransportDeadLetter } from '@entity-sync/core';
import { setTimeout as sleep } from 'node:timers/promises';

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
  /** Retry n waits `retryDelayMs * 2^(n-1)`; the consumer takes nothing else meanwhile. Default 0: at once. */
  retryDelayMs?: number;
  faults?: MemoryFaults;
}

/** A message that failed every attempt, with the last error (as text, and the error itself in `cause`). */
export interface DeadLetter extends TransportDeadLetter {
  message: CqrsMessage;
  cause: Error;
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
export class MemoryTransport implements AdministeredTransport {
  private readonly letters: DeadLetter[] = [];
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

  /** The CQRS ids the queue is bound to or holds waiting messages of. */
  async cqrsIdsOf(name: string): Promise<string[]> {
    const queue = this.queues.get(name);
    return queue ? [...new Set([...queue.cqrsIds, ...queue.pending.map((message) => message.cqrsId)])].sort() : [];
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

  /** The dead letters of a queue (of every queue when none is named), oldest first. */
  async deadLetters(queue?: string): Promise<DeadLetter[]> {
    return this.letters.filter((letter) => queue === undefined || letter.queue === queue);
  }

  /** Publishes the dead letters of a queue (or all) again, after a fix, to their own queues; returns how many. */
  async retryDeadLetters(queue?: string): Promise<number> {
    const letters = this.takeLetters(queue);
    for (const letter of letters) await this.publish([letter.message], { queue: letter.queue });
    return letters.length;
  }

  /** Drops the dead letters of a queue (or all); returns how many. */
  async purgeDeadLetters(queue?: string): Promise<number> {
    return this.takeLetters(queue).length;
  }

  /** Messages waiting in a queue (or in all), not counting those being handled. */
  async pending(queue?: string): Promise<number> {
    return [...this.queues].filter(([name]) => queue === undefined || name === queue).reduce((sum, [, { pending }]) => sum + pending.length, 0);
  }

  private takeLetters(queue: string | undefined): DeadLetter[] {
    const taken = this.letters.filter((letter) => queue === undefined || letter.queue === queue);
    this.letters.splice(0, this.letters.length, ...this.letters.filter((letter) => !taken.includes(letter)));
    return taken;
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
              const cause = error instanceof Error ? error : new Error(String(error));
              this.letters.push({ queue: name, message, error: cause.message, cause, attempts: attempt });
              break;
            }
            const delayMs = (this.options.retryDelayMs ?? 0) * 2 ** (attempt - 1);
            if (delayMs > 0) await sleep(delayMs);
          }
        }
      }
      consumer.running = undefined;
    })();
  }
}
