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
  handler: MessageHandler;
  pending: CqrsMessage[];
  running?: Promise<void>;
}

/**
 * An in-process transport for tests and single-process apps: one queue per replica service,
 * retries, a dead letter list, and injectable faults (duplicates, reordering).
 */
export class MemoryTransport implements Transport {
  readonly deadLetters: DeadLetter[] = [];
  private readonly queues = new Map<string, Queue>();
  private readonly maxAttempts: number;

  constructor(private readonly options: MemoryTransportOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 3;
  }

  async publish(messages: CqrsMessage[], options: { queue?: string } = {}): Promise<void> {
    const batch = this.options.faults?.reverse ? [...messages].reverse() : messages;
    for (const [name, queue] of this.queues) {
      if (options.queue !== undefined && options.queue !== name) continue;
      for (const message of batch) {
        if (!queue.cqrsIds.has(message.cqrsId)) continue;
        queue.pending.push(structuredClone(message));
        if (this.options.faults?.duplicate) queue.pending.push(structuredClone(message));
      }
      this.pump(name, queue);
    }
  }

  async subscribe(name: string, cqrsIds: string[], handler: MessageHandler): Promise<Subscription> {
    const queue: Queue = { cqrsIds: new Set(cqrsIds), handler, pending: [] };
    this.queues.set(name, queue);
    return {
      stop: async () => {
        await queue.running;
        this.queues.delete(name);
      },
    };
  }

  /** Resolves once every queue has handled everything published so far. */
  async drain(): Promise<void> {
    while ([...this.queues.values()].some((queue) => queue.running)) {
      await Promise.all([...this.queues.values()].map((queue) => queue.running));
    }
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

  // One message at a time per queue, in arrival order, as a broker queue with prefetch 1 would.
  private pump(name: string, queue: Queue): void {
    if (queue.running) return;
    queue.running = (async () => {
      for (let message = queue.pending.shift(); message; message = queue.pending.shift()) {
        for (let attempt = 1; ; attempt++) {
          try {
            await queue.handler(message);
            break;
          } catch (error) {
            if (attempt >= this.maxAttempts) {
              this.deadLetters.push({ queue: name, message, error: error as Error, attempts: attempt });
              break;
            }
          }
        }
      }
      queue.running = undefined;
    })();
  }
}
