/**
 * Milliseconds on the system's monotonic clock (CLOCK_MONOTONIC on Linux), which every process
 * of the machine shares: a commit time taken in the writer and an apply time taken in the
 * replica process can be subtracted.
 */
export const clock = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Resolves after `ms` milliseconds (at once for zero or less). */
export const sleep = (ms: number) => new Promise<void>((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
