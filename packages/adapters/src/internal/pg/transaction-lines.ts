import type { EntityManager } from '@mikro-orm/core';
import { inTransaction } from '../../mikro-orm/extension/compat.js';

const HIGH_WATER = 1000;

/**
 * Runs `work` in one transaction and hands the lines it emits to the consumer as they come,
 * holding the producer back while the consumer is behind: the stream reads one snapshot and
 * never holds a whole table in memory. Leaving the loop early rolls the transaction back.
 */
export function linesFromTransaction(em: EntityManager, isolation: 'repeatable read' | undefined,
  work: (tx: EntityManager, emit: (line: string) => Promise<void>) => Promise<void>): AsyncIterable<string> {
  return {
    async *[Symbol.asyncIterator]() {
      const buffered: string[] = [];
      const cancelled = new Error('the consumer stopped reading');
      let stopped = false;
      let finished = false;
      let failure: { error: unknown } | undefined;
      let wakeConsumer: (() => void) | undefined;
      let wakeProducer: (() => void) | undefined;
      const emit = async (line: string) => {
        if (stopped) throw cancelled;
        buffered.push(line);
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
            const batch = buffered.splice(0);
            wakeProducer?.();
            wakeProducer = undefined;
            yield* batch;
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
