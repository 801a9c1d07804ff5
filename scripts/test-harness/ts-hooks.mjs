// Module hooks for the processes the tests spawn (the CLI with a TypeScript config, fixture
// servers): TypeScript files of the repository are compiled by swc, with the decorator settings
// of tsconfig.json (legacy decorators, their metadata), and everything else loads as Node loads
// it. @swc-node/register does the same for the test run itself, but also resolves every import
// and recompiles the packages' built JavaScript, which costs a spawned process about 3 s.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from '@swc/core';

const isOurTs = (url) => url.startsWith('file:') && /\.[cm]?ts$/.test(url) && !url.includes('/node_modules/');

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    // TypeScript's NodeNext spelling: './entities.js' names ./entities.ts
    if (context.parentURL && isOurTs(context.parentURL) && /^\.{1,2}\/.*\.js$/.test(specifier)) {
      return nextResolve(specifier.replace(/\.js$/, '.ts'), context);
    }
    throw error;
  }
}

export async function load(url, context, nextLoad) {
  if (!isOurTs(url)) return nextLoad(url, context);
  const filename = fileURLToPath(url);
  const { code } = await transform(await readFile(filename, 'utf8'), {
    filename,
    sourceMaps: 'inline',
    module: { type: 'es6' },
    jsc: {
      target: 'es2022',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
      keepClassNames: true,
    },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
