// Errors a user can cause are built by the static factories of the area classes in
// packages/core/src/errors/, so that one failure has one wording: checked on the sources.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as core from '@entity-sync/core';
import ts from 'typescript';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
const errorsDir = 'packages/core/src/errors/';

/** Every .ts file under `dir` (a repository path), as repository paths. */
function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory()) return sources(`${path}/`);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const parse = (file: string) => ts.createSourceFile(file, readFileSync(join(root, file), 'utf8'), ts.ScriptTarget.Latest, true);
const errorFiles = sources(errorsDir);
const packageSources = readdirSync(join(root, 'packages'))
  .filter((name) => existsSync(join(root, 'packages', name, 'src')))
  .flatMap((name) => sources(`packages/${name}/src/`));

// The classes declared in packages/core/src/errors/ (EntitySyncError and its area classes).
const errorClasses = errorFiles.flatMap((file) => parse(file).statements
  .filter((statement): statement is ts.ClassDeclaration => ts.isClassDeclaration(statement) && !!statement.name)
  .map((statement) => statement.name!.text));

// The members of the ErrorCode union.
const errorCodes = (() => {
  const alias = parse(`${errorsDir}error-code.ts`).statements
    .find((statement): statement is ts.TypeAliasDeclaration => ts.isTypeAliasDeclaration(statement) && statement.name.text === 'ErrorCode');
  if (!alias || !ts.isUnionTypeNode(alias.type)) throw new Error('ErrorCode is not a union type');
  return alias.type.types.map((member) => {
    if (!ts.isLiteralTypeNode(member) || !ts.isStringLiteral(member.literal)) throw new Error(`not a string literal: ${member.getText()}`);
    return member.literal.text;
  });
})();

const test = suite('error factories');

test('the errors folder declares EntitySyncError, area classes, and every ErrorCode', () => {
  assert.ok(errorClasses.includes('EntitySyncError'), errorClasses.join(', '));
  assert.ok(errorClasses.length > 5, errorClasses.join(', '));
  assert.ok(errorCodes.includes('CQRS_UNKNOWN_ID') && errorCodes.length > 30, errorCodes.join(', '));
});

test('outside packages/core/src/errors/, no source constructs an error class: it calls a factory', () => {
  const constructing = new RegExp(`\\bnew\\s+(${errorClasses.join('|')})\\s*\\(`, 'g');
  const found = packageSources
    .filter((file) => !file.startsWith(errorsDir))
    .flatMap((file) => readFileSync(join(root, file), 'utf8').split('\n')
      .flatMap((line, i) => [...line.matchAll(constructing)].map((match) => `${file}:${i + 1}: new ${match[1]}(`)));
  assert.equal(found, []);
});

test('every code of the ErrorCode union is raised by a factory in packages/core/src/errors/', () => {
  const factories = errorFiles.filter((file) => !file.endsWith('/error-code.ts'))
    .map((file) => readFileSync(join(root, file), 'utf8')).join('\n');
  const unraised = errorCodes.filter((code) => !factories.includes(`'${code}'`));
  assert.equal(unraised, []);
});

test('every error class is exported from @entity-sync/core and is an EntitySyncError', () => {
  const exported = core as unknown as Record<string, unknown>;
  const missing = errorClasses.filter((name) => typeof exported[name] !== 'function');
  assert.equal(missing, [], 'not exported from @entity-sync/core');
  const outside = errorClasses.filter((name) => name !== 'EntitySyncError' &&
    !((exported[name] as { prototype: unknown }).prototype instanceof core.EntitySyncError));
  assert.equal(outside, [], 'not subclasses of EntitySyncError');
});

test.run();
