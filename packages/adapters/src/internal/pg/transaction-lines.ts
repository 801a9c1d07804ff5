import type { EntityManager } from '@mikro-orm/core';
import { inTransaction } from '../../mikro-orm/extension/compat.js';

const HIGH_WATER = 1000;

/** What `work` hands on: one line, or several at once (a page of rows costs one hand-over then). */
export type EmitLines = (lines: string | readonly string[]) => Promise<void>;

/**
 * Runs `work` in one transaction and hands the lines it emits to the consumer as they come, in
 * batches of what was emitted since the consumer last took (a page of rows travels as one
 * batch), holding the producer back while the consumer is behind: the stream reads one snapshot
 * and never holds a whole table in memory. Leaving the loop early rolls the transaction back.
 */
export function batchesFromTransaction(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: EmitLines) => Promise<void>): AsyncIterable<string[]> {
  return {
    async *[Symbol.asyncIterator]() {
      let buffered: string[] = [];
      const cancelled = new Error('the consumer stopped reading');
      let stopped = false;
      let finished = false;
      let failure: { error: unknown } | undefined;
      let wakeConsumer: (() => void) | undefined;
      let wakeProducer: (() => void) | undefined;
      const emit: EmitLines = async (lines) => {
        if (stopped) throw cancelled;
        if (typeof lines === 'string') buffered.push(lines);
        else for (const line of lines) buffered.push(line);
        wakeConsumer?.();
        if (buffered.length >= HIGH_WATER) await new Promise<void>((resolve) => { wakeProducer = resolve; });
        if (stopped) throw cancelled;
      };
      const running = inTransaction(em, (tx) => work(tx, emit), isolation).then(
        () => { finished = true; },
        (error: unknown) => { failure = { error }; finished = true; },
      ).finally(() => wakeConsumer?.());
      try {
        for (;;) {
          if (buffered.length > 0) {
            const batch = buffered;
            buffered = [];
            wakeProducer?.();
            wakeProducer = undefined;
            yield batch;
          } else if (finished) {
            if (failure) throw failure.error;
            return;
          } else {
            await new Promise<void>((resolve) => { wakeConsumer = resolve; });
            wakeConsumer = undefined;
          }
        }
      } finally {
        if (!finished) {
          stopped = true;
          wakeProducer?.();
          await running;
        }
      }
    },
  };
}

/** `batchesFromTransaction`, line by line. */
export function linesFromTransaction(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: EmitLines) => Promise<void>): AsyncIterable<string> {
  return flattenBatches(batchesFromTransaction(em, isolation, work));
}

/** The lines of batches of lines, in order; ending early ends the batches too. */
export function flattenBatches(batches: AsyncIterable<readonly string[]>): AsyncIterable<string> {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches) yield* batch;
    },
  };
}
