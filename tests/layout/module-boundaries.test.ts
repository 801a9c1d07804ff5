// The layout DESIGN.md lays out, checked on the sources: each capability has one home and reaches
// no other capability's folder, shared plumbing stays unexported, and no module imports itself
// back through others (type-only imports count: a cycle of types is still two files that
// cannot be read apart).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
const packagesDir = join(root, 'packages');

/** Every .ts file under `dir`, as paths relative to the repository. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [relative(root, path)] : [];
  });
}

/** The relative imports of a file (static, dynamic, type-only and re-exports), as repository paths of .ts files. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
  return importedFiles
    .map((imported) => imported.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => relative(root, resolve(root, dirname(file), name)).replace(/\.js$/, '.ts'));
}

const packageSources = readdirSync(packagesDir).flatMap((name) => {
  try {
    return sources(join(packagesDir, name, 'src'));
  } catch {
    return [];
  }
});
const graph = new Map(packageSources.map((file) => [file, importsOf(file)]));

const adapters = 'packages/adapters/src/';
// Each home of packages/adapters/src, most specific first. Shared plumbing (internal/), the
// extension every capability stands on, and the HTTP layer capabilities mount their endpoints on
// (http/) may be imported from anywhere.
const HOMES = [
  'internal/', 'mikro-orm/extension/',
  'mikro-orm/graph-io/', 'mikro-orm/cqrs/', 'mikro-orm/env-sync/', 'mikro-orm/push-pull/', 'mikro-orm/diff/',
  'http/', 'memory/', 'postgres/', 'rabbitmq/', 'storage/', 'rxdb/',
];
const SHARED = new Set(['internal/', 'mikro-orm/extension/', 'http/']);
const homeOf = (file: string) => HOMES.find((home) => file.startsWith(adapters + home));

const test = suite('module layout');

test('every relative import names a source file that exists', () => {
  const missing = [...graph].flatMap(([file, imports]) => imports.filter((target) => !graph.has(target)).map((target) => `${file} -> ${target}`));
  assert.equal(missing, []);
});

test('a package reaches another only through its package name: no relative import leaves its src folder', () => {
  const packageOf = (file: string) => file.split('/').slice(0, 3).join('/');
  const leaving = [...graph].flatMap(([file, imports]) => imports.filter((target) => packageOf(target) !== packageOf(file)).map((target) => `${file} -> ${target}`));
  assert.equal(leaving, []);
});

test('no capability of the adapters imports from another capability\'s folder', () => {
  const crossings: string[] = [];
  for (const [file, imports] of graph) {
    const home = homeOf(file);
    if (!home) continue;
    for (const target of imports) {
      const other = homeOf(target);
      if (other && other !== home && !SHARED.has(other)) crossings.push(`${file} -> ${target}`);
    }
  }
  assert.equal(crossings, []);
});

test('internal plumbing imports no capability and no public index re-exports it', () => {
  const leaks: string[] = [];
  for (const [file, imports] of graph) {
    for (const target of imports) {
      const other = homeOf(target);
      if (homeOf(file) === 'internal/' && other && !SHARED.has(other)) leaks.push(`${file} -> ${target}`);
      if (file.startsWith(adapters) && file.endsWith('/index.ts') && other === 'internal/') leaks.push(`${file} re-exports ${target}`);
    }
  }
  assert.equal(leaks, []);
});

test('no import cycles among the packages\' modules', () => {
  const cycles: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      if (state.get(target) === 'open') cycles.push([...path.slice(path.indexOf(target)), target].map((f) => f.replace(/^packages\//, '')).join(' -> '));
      else if (!state.has(target) && graph.has(target)) visit(target);
    }
    path.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  assert.equal(cycles, []);
});

test.run();
