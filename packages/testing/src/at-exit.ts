/**
 * Runs `cleanup` when the process exits or is ended by SIGINT / SIGTERM (after which it dies of
 * the same signal, since a signal ends a process without an 'exit' event). Returns the function
 * that stops listening, for a cleanup that ran early.
 */
export function cleanUpAtExit(cleanup: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    cleanup();
    process.kill(process.pid, signal);
  };
  process.once('exit', cleanup);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.removeListener('exit', cleanup);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  };
}
