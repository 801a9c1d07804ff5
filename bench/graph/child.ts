import { execFile } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Runs a sibling script of this bench in a fresh Node process and returns the JSON of its last
 * output line. Works both from the TypeScript sources (through swc) and from compiled output.
 */
export async function runSibling<T>(script: string, args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, siblingArgs(script, args), { maxBuffer: 16 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

/** The Node arguments that run a sibling script (`./graph/x` style path, no extension) of this bench with `args`. */
export function siblingArgs(script: string, args: string[]): string[] {
  const ext = extname(fileURLToPath(import.meta.url));
  const path = fileURLToPath(new URL(`./${script}${ext}`, import.meta.url));
  const loader = ext === '.ts' ? ['--import', '@swc-node/register/esm-register'] : [];
  return [...loader, path, ...args];
}
