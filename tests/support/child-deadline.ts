import type { ChildProcess } from 'node:child_process';

/** Default deadline of a child process a test spawns. */
export const CHILD_DEADLINE_MS = Number(process.env.ENTITY_SYNC_CHILD_DEADLINE_MS ?? 120_000);
/** Deadline of a child that lives for a whole suite (a server, a relay): a loaded machine can stretch a suite to minutes. */
export const SERVER_DEADLINE_MS = 5 * CHILD_DEADLINE_MS;

/**
 * Kills `child` (SIGKILL) if it is still running after `ms`, and calls `onKilled` with an error that
 * names the command and shows what it printed; the timer goes when the child exits.
 */
export function killAfter(child: ChildProcess, ms: number, command: string, output: () => { stdout: string; stderr: string },
  onKilled: (error: Error) => void): void {
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
    const { stdout, stderr } = output();
    onKilled(new Error(`${command} did not exit within ${ms / 1000} s and was killed.\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
  }, ms);
  child.once('exit', () => clearTimeout(timer));
}
