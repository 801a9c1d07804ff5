#!/usr/bin/env node
// Installs entity-sync the way an app does: packs every workspace package, creates an app in a
// temporary folder outside the workspace, `npm install`s the tarballs and MikroORM from the
// registry, type-checks it with ESM (NodeNext) and CommonJS (node10) settings, runs it on
// PGlite (a graph export and import, one change replicated, reference data pulled over HTTP),
// and runs the CLI from it.
// Prints one line per check and exits 1 when one failed. Needs `pnpm build` first.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const template = fileURLToPath(new URL('./app', import.meta.url));
const keep = process.argv.includes('--keep');
const DEADLINE_MS = Number(process.env.ENTITY_SYNC_INSTALL_DEADLINE_MS ?? 300_000);

// Versions the app takes from the registry: the ones the workspace tests with.
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tested = (name) => rootPackage.devDependencies[name] ?? (() => { throw new Error(`no tested version of ${name} in package.json`); })();
// the MikroORM major of the workspace (7 in the MikroORM 7 lane), and what an app on it installs
const major = Number(tested('@mikro-orm/core').split('.')[0]);
const ormPackages = major >= 7
  ? ['@mikro-orm/core', '@mikro-orm/postgresql', '@mikro-orm/decorators', '@mikro-orm/pglite', '@electric-sql/pglite']
  : ['@mikro-orm/core', '@mikro-orm/postgresql', 'mikro-orm-pglite', '@electric-sql/pglite'];

const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
  return ok;
}

function run(command, args, cwd, env = {}) {
  const result = spawnSync(command, args, { cwd, env: { ...process.env, ...env }, encoding: 'utf8', timeout: DEADLINE_MS, killSignal: 'SIGKILL' });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.error?.code === 'ETIMEDOUT' || result.signal === 'SIGKILL') {
    return { ok: false, output: `killed after ${DEADLINE_MS} ms: ${command} ${args.join(' ')}\n${output}` };
  }
  return { ok: result.status === 0, output, stdout: result.stdout ?? '' };
}

const last = (text, lines = 15) => text.split('\n').slice(-lines).join('\n');

const dir = mkdtempSync(join(tmpdir(), 'entity-sync-install-'));
try {
  // 1. pack every package (pnpm replaces workspace:* with the real versions)
  const tarballs = join(dir, 'tarballs');
  mkdirSync(tarballs);
  const packages = readdirSync(join(root, 'packages')).filter((name) => existsSync(join(root, 'packages', name, 'package.json')));
  const packed = {};
  for (const name of packages) {
    const before = new Set(readdirSync(tarballs));
    const result = run('pnpm', ['pack', '--pack-destination', tarballs], join(root, 'packages', name));
    const file = readdirSync(tarballs).find((entry) => !before.has(entry));
    if (!check(`pnpm pack packages/${name}`, result.ok && !!file, result.ok ? '' : last(result.output))) process.exit(1);
    packed[JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')).name] = join(tarballs, file);
  }
  for (const [name, file] of Object.entries(packed)) {
    const manifest = run('tar', ['-xOzf', file, 'package/package.json'], dir);
    check(`${name} tarball has no workspace: ranges`, manifest.ok && !manifest.stdout.includes('workspace:'));
  }

  // 2. an app outside the workspace that uses the library only (no CLI)
  const app = join(dir, 'app');
  cpSync(template, app, { recursive: true });
  // the entities' decorators and the PGlite driver of this major (src/orm.v6.ts or src/orm.v7.ts)
  cpSync(join(app, 'src', `orm.v${major >= 7 ? 7 : 6}.ts`), join(app, 'src', 'orm.ts'));
  for (const variant of ['orm.v6.ts', 'orm.v7.ts']) rmSync(join(app, 'src', variant));
  const library = ['@entity-sync/core', '@entity-sync/adapters'];
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'entity-sync-install-test-app', private: true, type: 'module',
    dependencies: {
      ...Object.fromEntries(library.map((name) => [name, `file:${packed[name]}`])),
      ...Object.fromEntries(ormPackages.map((name) => [name, tested(name)])),
      'reflect-metadata': tested('reflect-metadata'),
    },
    devDependencies: { typescript: tested('typescript'), '@types/node': '20.19.9' },
  }, null, 2));
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], app);
  if (!check(`npm install of the packed library into an app on MikroORM ${tested('@mikro-orm/core')}`, install.ok, install.ok ? '' : last(install.output))) process.exit(1);

  // only what entity-sync brings counts (MikroORM's own knex depends on commander, say)
  const unwanted = ['amqplib', 'commander', 'cli-progress', 'pg-copy-streams'];
  const tree = run('npm', ['ls', '--all', '--json', ...unwanted], app);
  const brought = [];
  const walk = (node, via) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      const path = [...via, name];
      if (unwanted.includes(name) && path.some((step) => step.startsWith('@entity-sync/'))) brought.push(path.join(' > '));
      walk(child, path);
    }
  };
  walk(JSON.parse(tree.stdout || '{}'), []);
  check('an app using only ./mikro-orm gets no amqplib, commander, cli-progress or pg-copy-streams from entity-sync', brought.length === 0, brought.join(', '));
  const copies = run('npm', ['ls', '--all', '--parseable', '@mikro-orm/core'], app).stdout.split('\n').filter((line) => line.trim());
  check('one copy of @mikro-orm/core', copies.length === 1, copies.join(', '));

  const esm = run('npx', ['tsc', '-p', 'tsconfig.json'], app);
  check('type-checks and builds as ESM (module NodeNext)', esm.ok, last(esm.output));
  const cjs = run('npx', ['tsc', '-p', 'tsconfig.cjs.json'], app);
  check('type-checks with CommonJS settings (module commonjs, moduleResolution node10)', cjs.ok, last(cjs.output));

  if (esm.ok) {
    const main = run('node', ['dist/main.js'], app);
    let outcome;
    try {
      outcome = JSON.parse(main.stdout.trim().split('\n').at(-1));
    } catch {
      outcome = undefined;
    }
    check('runs on PGlite: a graph exported and imported, one change replicated',
      main.ok && outcome?.imported === 2 && outcome?.rows === 3 && outcome?.replicated === 'Ursula K. Le Guin', main.ok ? main.stdout.trim() : last(main.output));
    check('pulls reference data over HTTP by natural key: one writer created, then unchanged',
      main.ok && outcome?.pulled?.created === 1 && outcome?.pulled?.unchangedAfter === 1, main.ok ? main.stdout.trim() : last(main.output));
    check('a push/pull client pulls the writer, pushes a new one, and pulls it back',
      main.ok && JSON.stringify(outcome?.synced) === JSON.stringify({ initial: ['Ursula K. Le Guin'], pushed: ['created'], after: ['Octavia'] }), main.ok ? main.stdout.trim() : last(main.output));
    check('the push is in the audit trail with its actor and client, every request in the sync log, the metrics count it, health and the admin sign-in answer',
      main.ok && JSON.stringify({ ...outcome?.operated, compared: undefined, inOneDatabase: undefined }) === JSON.stringify({
        audited: [['create', 'app-service', 'app']], logged: ['pull', 'pull', 'push'], health: 200, counted: true, adminLogin: 'text/html; charset=utf-8',
      }), main.ok ? main.stdout.trim() : last(main.output));
    // the source has Octavia (pushed) that the pulled database does not: one create, Ursula the same
    check('a diff of the writers of two databases by natural key (fromEntity)',
      main.ok && JSON.stringify(outcome?.operated?.compared) === JSON.stringify({ create: 1, update: 0, delete: 0, unchanged: 1, problems: 0 }), main.ok ? main.stdout.trim() : last(main.output));
    // all the writers against those named Octavia, in the one database: compared there, Ursula to create
    check('a diff of two entity sources of one database runs in the database (sql)',
      main.ok && JSON.stringify(outcome?.operated?.inOneDatabase) === JSON.stringify({ strategy: 'sql', counts: { create: 1, update: 0, delete: 0, unchanged: 1, problems: 0 } }),
      main.ok ? main.stdout.trim() : last(main.output));
  }

  // 3. the CLI, added to the same app
  if (packed['@entity-sync/cli']) {
    const cli = run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `file:${packed['@entity-sync/cli']}`], app);
    if (check('npm install of the packed CLI', cli.ok, cli.ok ? '' : last(cli.output))) {
      const version = run('npx', ['entity-sync', '--version'], app);
      const expected = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')).version;
      check('npx entity-sync --version', version.ok && version.stdout.trim() === expected, version.output);
      const exported = run('npx', ['entity-sync', '--config', 'dist/mikro-orm.config.js', 'export', 'Writer:1', '-o', 'cli-writer.json'], app);
      const rows = exported.ok && existsSync(join(app, 'cli-writer.json')) ? readFileSync(join(app, 'cli-writer.json'), 'utf8') : '';
      check('npx entity-sync export writes the graph', exported.ok && rows.includes('The Lathe of Heaven'), last(exported.output));
    }
  } else {
    check('a @entity-sync/cli package to install', false, 'packages/cli does not exist');
  }
} finally {
  if (keep) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
const failed = results.filter((result) => !result.ok).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
