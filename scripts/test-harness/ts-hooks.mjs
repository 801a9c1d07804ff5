// Module hooks for the processes the tests spawn (the CLI with a TypeScript config, fixture
// servers): TypeScript files of the repository are compiled by swc, with the decorator settings
// of tsconfig.json (legacy decorators, their metadata), and everything else loads as Node loads
// it. @swc-node/register does the same for the test run itself, but also resolves every import
// and recompiles the packages' built JavaScript, which costs a spawned process about 3 s.
// On a Node with module.registerHooks (22.15 and later) the same hooks run in the process's own
// thread (syncHooks, see ts-register.mjs): hooks on a thread of their own cost a spawned process
// about 0.7 s of CPU even when they pass every module through.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transformSync } from '@swc/core';

const isOurTs = (url) => url.startsWith('file:') && /\.[cm]?ts$/.test(url) && !url.includes('/node_modules/');

const SWC_OPTIONS = {
  sourceMaps: 'inline',
  module: { type: 'es6' },
  jsc: {
    target: 'es2022',
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
    keepClassNames: true,
  },
};

// TypeScript's NodeNext spelling: './entities.js' names ./entities.ts
const tsSpelling = (specifier, context) =>
  context.parentURL && isOurTs(context.parentURL) && /^\.{1,2}\/.*\.js$/.test(specifier) ? specifier.replace(/\.js$/, '.ts') : undefined;

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    const ts = tsSpelling(specifier, context);
    if (ts) return nextResolve(ts, context);
    throw error;
  }
}

/** A TypeScript file of the repository, compiled: what both kinds of load hook answer for it. */
function compiled(url) {
  const filename = fileURLToPath(url);
  const { code } = transformSync(readFileSync(filename, 'utf8'), { filename, ...SWC_OPTIONS });
  return { format: 'module', source: code, shortCircuit: true };
}

export async function load(url, context, nextLoad) {
  return isOurTs(url) ? compiled(url) : nextLoad(url, context);
}

/** The same hooks, synchronous, for module.registerHooks. */
export const syncHooks = {
  resolve(specifier, context, nextResolve) {
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      const ts = tsSpelling(specifier, context);
      if (ts) return nextResolve(ts, context);
      throw error;
    }
  },
  load(url, context, nextLoad) {
    return isOurTs(url) ? compiled(url) : nextLoad(url, context);
  },
};
