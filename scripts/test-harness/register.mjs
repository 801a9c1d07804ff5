// Preloaded by scripts/run-tests.mjs: test files that import 'uvu' get the timed suite of ./timed-uvu.mjs.
import { register } from 'node:module';

register(new URL('./resolve-uvu.mjs', import.meta.url));
