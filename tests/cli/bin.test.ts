// The `entity-sync` command as the workspace installs it: linked by pnpm into node_modules/.bin
// (the bin file is committed, so that it exists at install time), and a clear refusal where the
// CLI has not been built yet.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CHILD_DEADLINE_MS, killAfter } from '../support/child-deadline.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { version } = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')) as { version: string };

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    killAfter(child, CHILD_DEADLINE_MS, `${command} ${args.join(' ')}`, () => ({ stdout, stderr }), reject);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const test = suite('entity-sync bin');

test('the command pnpm links into node_modules/.bin prints the CLI package version with --version and -V', async () => {
  for (const flag of ['--version', '-V']) {
    const result = await run(join(root, 'node_modules/.bin/entity-sync'), [flag]);
    assert.is(result.code, 0, result.stderr);
    assert.is(result.stdout, `${version}\n`);
  }
});

test('without a build beside it, the bin says the CLI is not built and to run pnpm build, and exits 1', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'entity-sync-bin-'));
  try {
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(root, 'packages/cli/bin/entity-sync.js'), join(dir, 'bin/entity-sync.js'));
    // beside it a package.json of an ES module package, as in packages/cli, but no dist/
    copyFileSync(join(root, 'packages/cli/package.json'), join(dir, 'package.json'));
    const result = await run(process.execPath, [join(dir, 'bin/entity-sync.js'), '--version']);
    assert.is(result.code, 1, result.stdout);
    assert.match(result.stderr, `the CLI is not built (${join(dir, 'dist/main.js')} is missing)`);
    assert.match(result.stderr, 'Run `pnpm build`');
    assert.is(result.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
