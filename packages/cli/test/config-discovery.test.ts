// The CLI finds the app's MikroORM config where the mikro-orm CLI does, compiled configs included.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findConfigPath } from '../src/config-loader.js';

const test = suite('config discovery');

test('compiled .js, .mjs and .cjs configs in dist/, build/ or the app folder are found; the TypeScript source comes first', () => {
  for (const file of ['dist/mikro-orm.config.mjs', 'dist/mikro-orm.config.cjs', 'build/mikro-orm.config.js', 'mikro-orm.config.cjs', 'mikro-orm.config.mjs']) {
    const dir = mkdtempSync(join(tmpdir(), 'entity-sync-config-'));
    try {
      mkdirSync(join(dir, file, '..'), { recursive: true });
      writeFileSync(join(dir, file), 'export default {};\n');
      assert.is(findConfigPath(undefined, dir), join(dir, file), file);
      mkdirSync(join(dir, 'src'), { recursive: true });
      writeFileSync(join(dir, 'src/mikro-orm.config.ts'), 'export default {};\n');
      assert.is(findConfigPath(undefined, dir), join(dir, 'src/mikro-orm.config.ts'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('nothing found is CONFIG_NOT_FOUND naming where it looked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'entity-sync-config-'));
  try {
    const error = (() => {
      try {
        findConfigPath(undefined, dir);
      } catch (e) {
        return e as { code: string; message: string };
      }
    })();
    assert.is(error?.code, 'CONFIG_NOT_FOUND');
    assert.match(error!.message, './dist/mikro-orm.config.cjs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
