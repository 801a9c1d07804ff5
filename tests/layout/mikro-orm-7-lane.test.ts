// The MikroORM 7 lane leaves out the test files listed in scripts/mikro-orm-7/versions.json's
// skipTests, on the ground that they touch no MikroORM: checked here on their imports, followed
// through the test's own relative imports, so that a file that starts to need the ORM is run
// on MikroORM 7 again instead of silently missing there.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
const { skipTests, faultTests } = JSON.parse(readFileSync(join(root, 'scripts/mikro-orm-7/versions.json'), 'utf8')) as
  { skipTests: Record<string, string>; faultTests: Record<string, string> };

// modules that are MikroORM or open an ORM
const ORM_MODULES = [/^@mikro-orm\//, /^mikro-orm-pglite$/, /^@entity-sync\/adapters\/mikro-orm/, /^@entity-sync\/testing\/mikro-orm/, /^@entity-sync\/cli/];
// helpers of @entity-sync/testing that open an ORM
const ORM_HELPERS = new Set(['testBackends', 'getBackend', 'createTestOrm', 'PgliteBackend', 'PostgresBackend']);
// the transport contract has one case that applies on a replica through MikroORM: it must run on MikroORM 7 through some transport
const CONTRACT = 'transportContract';

interface Imports { modules: string[]; names: string[] }

/** The modules and names a file imports, with those of the repository files it imports by relative path. */
function importsOf(file: string, seen = new Set<string>()): Imports {
  const found: Imports = { modules: [], names: [] };
  if (seen.has(file)) return found;
  seen.add(file);
  const source = ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
  const visit = (node: ts.Node) => {
    let specifier: string | undefined;
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      specifier = node.moduleSpecifier.text;
      const bindings = ts.isImportDeclaration(node) ? node.importClause?.namedBindings : undefined;
      if (bindings && ts.isNamedImports(bindings)) found.names.push(...bindings.elements.map((element) => (element.propertyName ?? element.name).text));
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && ts.isStringLiteral(node.arguments[0]!)) {
      specifier = (node.arguments[0] as ts.StringLiteral).text;
    }
    if (specifier?.startsWith('.')) {
      const target = relative(root, join(root, dirname(file), specifier)).replace(/\.js$/, '.ts');
      if (existsSync(join(root, target)) && target.endsWith('.ts')) {
        const inner = importsOf(target, seen);
        found.modules.push(...inner.modules);
        found.names.push(...inner.names);
      } else {
        found.modules.push(target);
      }
    } else if (specifier) {
      found.modules.push(specifier);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

const test = suite('the MikroORM 7 lane');

test('every file it leaves out is a test file of the repository, with the reason', () => {
  const listed = Object.entries(skipTests);
  assert.ok(listed.length > 0);
  for (const [file, reason] of listed) {
    assert.ok(/\.test\.ts$/.test(file) && existsSync(join(root, file)), `${file} is not a test file of the repository`);
    assert.ok(reason.trim().length > 0, `${file} has no reason`);
  }
});

test('no file it leaves out imports MikroORM, the CLI, or a helper that opens an ORM, directly or through its own imports', () => {
  const offending = Object.keys(skipTests).flatMap((file) => {
    const { modules, names } = importsOf(file);
    return [
      ...modules.filter((module) => ORM_MODULES.some((pattern) => pattern.test(module)) || module.startsWith('examples/')).map((module) => `${file} imports ${module}`),
      ...names.filter((name) => ORM_HELPERS.has(name)).map((name) => `${file} uses ${name}`),
    ];
  });
  assert.equal(offending, []);
});

test('every fault test it leaves out names the test files that run its MikroORM paths in the lane, and those exist and run there', () => {
  const listed = Object.entries(faultTests);
  assert.ok(listed.length > 0);
  for (const [file, reason] of listed) {
    assert.ok(/\.test\.ts$/.test(file) && existsSync(join(root, file)), `${file} is not a test file of the repository`);
    assert.not.ok(file in skipTests, `${file} is listed twice`);
    const covering = [...reason.matchAll(/tests\/[\w/.-]+\.test\.ts/g)].map((match) => match[0]);
    assert.ok(covering.length > 0, `${file} names no test file that runs its MikroORM paths in the lane`);
    for (const other of covering) {
      assert.ok(existsSync(join(root, other)), `${file} names ${other}, which does not exist`);
      assert.not.ok(other in skipTests || other in faultTests, `${file} names ${other}, which the lane leaves out too`);
      assert.ok(importsOf(other).modules.some((module) => ORM_MODULES.some((pattern) => pattern.test(module))) ||
        importsOf(other).names.some((name) => ORM_HELPERS.has(name)), `${file} names ${other}, which runs no MikroORM`);
    }
  }
});

test('the transport contract, which has a case on MikroORM, still runs in the lane through one transport', () => {
  const contractFiles = ['tests/transports/contract-memory.test.ts', 'tests/transports/contract-pglite.test.ts',
    'tests/transports/contract-postgres.test.ts', 'tests/transports/contract-rabbitmq.test.ts'];
  const using = contractFiles.filter((file) => importsOf(file).names.includes(CONTRACT));
  assert.equal(using, contractFiles, 'every contract file runs transportContract');
  const kept = using.filter((file) => !(file in skipTests));
  assert.ok(kept.length >= 1, 'every transport contract file is left out of the MikroORM 7 lane');
});

test.run();
