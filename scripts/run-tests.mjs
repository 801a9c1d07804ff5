// Runs every test file in one uvu process (one shared PGlite instance, one PostgreSQL
// cluster) and ends with the summary line CI reads: `N passed, N failed`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pattern = process.argv[2] ?? '(^|/)test/.*\\.test\\.ts$|^tests/.*\\.test\\.ts$';
const child = spawn(process.execPath, [
  '--import', '@swc-node/register/esm-register',
  join(root, 'node_modules/uvu/bin.js'), '.', pattern, '-i', 'dist', '-i', 'fixtures', '-i', '\\.tmp', '-i', '^bench',
], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.json') } });

let output = '';
child.stdout.on('data', (chunk) => {
  output += chunk;
  process.stdout.write(chunk);
});
child.on('close', (code, signal) => {
  // uvu prints "Total: N", "Passed: N", "Skipped: N" (with colour codes) at the end.
  const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
  const count = (label) => Number(plain.match(new RegExp(`${label}:\\s+(\\d+)`))?.[1] ?? 0);
  const total = count('Total');
  const passed = count('Passed');
  const skipped = count('Skipped');
  let failed = total - passed - skipped;
  if ((code !== 0 || signal) && failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(code ?? 1);
});
