import type { EntityManager } from '@mikro-orm/core';
import { inTransaction } from '../../mikro-orm/extension/compat.js';

const HIGH_WATER = 1000;

/** What `work` hands on: one line, or several at once (a page of rows costs one hand-over then). */
export type EmitLines = (lines: string | readonly string[]) => Promise<void>;

/**
 * Runs `work` in one transaction and hands the items it emits to the consumer as they come, in
 * batches of what was emitted since the consumer last took, holding the producer back while the
 * consumer is behind by `highWater` (items, or what `weigh` makes of them): the stream reads one
 * snapshot and never holds a whole table in memory. Leaving the loop early rolls the transaction back.
 */
function itemBatchesFromTransaction<T>(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: (items: readonly T[]) => Promise<void>) => Promise<void>, highWater: number, weigh: (item: T) => number): AsyncIterable<T[]> {
  return {
    async *[Symbol.asyncIterator]() {
      let buffered: T[] = [];
      let weight = 0;
      const cancelled = new Error('the consumer stopped reading');
      let stopped = false;
      let finished = false;
      let failure: { error: unknown } | undefined;
      let wakeConsumer: (() => void) | undefined;
      let wakeProducer: (() => void) | undefined;
      const emit = async (items: readonly T[]) => {
        if (stopped) throw cancelled;
        for (const item of items) {
          buffered.push(item);
          weight += weigh(item);
        }
        wakeConsumer?.();
        if (weight >= highWater) await new Promise<void>((resolve) => { wakeProducer = resolve; });
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
            weight = 0;
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

/** `itemBatchesFromTransaction` of lines of text, a thousand of them held at most (a page of rows travels as one batch). */
export function batchesFromTransaction(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: EmitLines) => Promise<void>): AsyncIterable<string[]> {
  return itemBatchesFromTransaction<string>(em, isolation, (tx, emit) => work(tx, (lines) => emit(typeof lines === 'string' ? [lines] : lines)), HIGH_WATER, () => 1);
}

/** `itemBatchesFromTransaction` of chunks (bytes, or anything `weigh` measures), handed on one by one. */
export function chunksFromTransaction<T>(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: (chunk: T) => Promise<void>) => Promise<void>, highWater: number, weigh: (chunk: T) => number): AsyncIterable<T> {
  return flattenBatches(itemBatchesFromTransaction<T>(em, isolation, (tx, emit) => work(tx, (chunk) => emit([chunk])), highWater, weigh));
}

/** `batchesFromTransaction`, line by line. */
export function linesFromTransaction(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: EmitLines) => Promise<void>): AsyncIterable<string> {
  return flattenBatches(batchesFromTransaction(em, isolation, work));
}

/** The lines of batches of lines, in order; ending early ends the batches too. */
export function flattenBatches<T>(batches: AsyncIterable<readonly T[]>): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches) yield* batch;
    },
  };
}
