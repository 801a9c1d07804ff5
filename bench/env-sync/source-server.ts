import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { siblingArgs } from '../graph/child.js';

/** A source installation serving environment sync over HTTP on 127.0.0.1, in a child process (./serve-worker.ts). */
export interface SourceServer {
  /** The prefix the routes are mounted under, `http://127.0.0.1:<port>/sync`. */
  url: string;
  /** The static token it accepts. */
  token: string;
  /** Stops the server and waits for its process to exit. */
  close(): Promise<void>;
}

/** Starts the source server on the database at `sourceUrl` and resolves once it listens. */
export async function startSourceServer(sourceUrl: string): Promise<SourceServer> {
  const child = spawn(process.execPath, siblingArgs('../env-sync/serve-worker', [sourceUrl]), { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the source server exited with ${code} before listening`)));
  });
  lines.close();
  const { url, token } = JSON.parse(first) as { url: string; token: string };
  return {
    url,
    token,
    async close() {
      child.stdin!.end();
      await exited;
    },
  };
}
