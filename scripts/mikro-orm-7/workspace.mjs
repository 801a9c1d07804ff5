// Turns a copy of the workspace into its MikroORM 7 variant: every package.json gets the
// versions of versions.json (dependencies and devDependencies; peer ranges already cover 7),
// the root gets the Node 22 binary package, and the lockfile of this folder replaces the
// MikroORM 6 one. Usage: node workspace.mjs <copy of the workspace>
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const target = process.argv[2];
if (!target) throw new Error('usage: node workspace.mjs <copy of the workspace>');
const versions = JSON.parse(readFileSync(join(here, 'versions.json'), 'utf8'));

// the workspace's package folders, as pnpm-workspace.yaml lists them (`dir/*` or `dir`)
function packageDirs(root) {
  const section = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8').split(/^packages:\s*$/m)[1]?.split(/^\S/m)[0] ?? '';
  const globs = [...section.matchAll(/^\s+-\s+['"]?([^'"\s]+)['"]?\s*$/gm)].map((m) => m[1]);
  const dirs = ['.'];
  for (const glob of globs) {
    if (!glob.endsWith('/*')) dirs.push(glob);
    else {
      const parent = glob.slice(0, -2);
      for (const entry of readdirSync(join(root, parent), { withFileTypes: true })) if (entry.isDirectory()) dirs.push(join(parent, entry.name));
    }
  }
  return dirs.filter((dir) => existsSync(join(root, dir, 'package.json')));
}

function rewrite(pkg, isRoot) {
  for (const field of ['dependencies', 'devDependencies']) {
    const deps = pkg[field];
    if (!deps) continue;
    for (const [name, version] of Object.entries(versions.set)) if (name in deps) deps[name] = version;
    for (const [name, instead] of Object.entries(versions.replace)) {
      if (!(name in deps)) continue;
      delete deps[name];
      Object.assign(deps, instead);
    }
    for (const [marker, added] of Object.entries(versions.addWhere)) if (marker in deps) Object.assign(deps, added);
    if (isRoot && field === 'devDependencies') Object.assign(deps, versions.root);
    pkg[field] = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => a.localeCompare(b)));
  }
  return pkg;
}

for (const dir of packageDirs(target)) {
  const file = join(target, dir, 'package.json');
  const pkg = rewrite(JSON.parse(readFileSync(file, 'utf8')), dir === '.');
  if (dir === '.' && versions.overrides) pkg.pnpm = { ...pkg.pnpm, overrides: { ...pkg.pnpm?.overrides, ...versions.overrides } };
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}
const lockfile = join(here, 'pnpm-lock.yaml');
if (existsSync(lockfile)) copyFileSync(lockfile, join(target, 'pnpm-lock.yaml'));
