// `node --import ./scripts/test-harness/ts-register.mjs`: see ts-hooks.mjs. In the process's own
// thread where Node can (module.registerHooks), else on a hooks thread (module.register).
import * as module from 'node:module';

if (typeof module.registerHooks === 'function') {
  const { syncHooks } = await import('./ts-hooks.mjs');
  module.registerHooks(syncHooks);
} else {
  module.register('./ts-hooks.mjs', import.meta.url);
}
