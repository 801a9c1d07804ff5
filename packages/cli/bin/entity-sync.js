#!/usr/bin/env node
// The `entity-sync` command. It runs the compiled CLI, which a published package ships and a
// checkout of the repository has once `pnpm build` has run; this file itself is not compiled, so
// that package managers can link the command before anything is built.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(`entity-sync: the CLI is not built (${fileURLToPath(main)} is missing). ` +
    'Run `pnpm build` in the entity-sync checkout, then run the command again.\n');
  process.exit(1);
}
await import(main.href);
