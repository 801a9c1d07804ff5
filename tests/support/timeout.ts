/** Wraps a test body so that it fails after `ms` instead of hanging the run. */
export function withTimeout<T extends unknown[]>(body: (...args: T) => Promise<void>, ms = 60_000): (...args: T) => Promise<void> {
  return async (...args: T) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the test did not finish within ${ms / 1000} s`)), ms);
    });
    try {
      await Promise.race([body(...args), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}
