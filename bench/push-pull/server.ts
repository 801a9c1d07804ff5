import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { siblingArgs } from '../graph/child.js';

/** The bench's push/pull server in a child process (./serve-worker.ts). */
export interface PushPullServer {
  /** The prefix the routes are mounted under, `http://127.0.0.1:<port>/sync`. */
  url: string;
  /** The static token it accepts (a service's: no roles apply). */
  token: string;
  /** Its peak resident and heap memory (MB), and the CPU time it used (s), since it started or since the last `resetPeak`. */
  memory(): Promise<{ peakRssMb: number; peakHeapMb: number; cpuSeconds: number }>;
  resetPeak(): Promise<void>;
  /** Stops the server and waits for its process to exit. */
  close(): Promise<void>;
}

/** Starts the server on the database at `url` (JWTs signed with `secret`), with `nodeArgs` (e.g. `--cpu-prof`), and resolves once it listens. */
export async function startPushPullServer(url: string, secret: string, nodeArgs: string[] = []): Promise<PushPullServer> {
  const child = spawn(process.execPath, [...nodeArgs, ...siblingArgs('../push-pull/serve-worker', [url, secret])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  lines.on('line', (line) => waiting.shift()?.resolve(line));
  child.once('exit', (code) => waiting.splice(0).forEach(({ reject }) => reject(new Error(`the push/pull server exited with ${code}`))));
  const next = () => new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
  const ask = async (command: string) => {
    const answer = next();
    child.stdin!.write(`${command}\n`);
    return JSON.parse(await answer) as Record<string, unknown>;
  };
  const { url: prefix, token } = JSON.parse(await next()) as { url: string; token: string };
  return {
    url: prefix,
    token,
    memory: async () => (await ask('memory')) as { peakRssMb: number; peakHeapMb: number; cpuSeconds: number },
    async resetPeak() {
      await ask('reset');
    },
    async close() {
      child.stdin!.end();
      await exited;
    },
  };
}
