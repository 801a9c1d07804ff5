import { SetupError } from '@entity-sync/core';

const loaded = new Map<string, Promise<unknown>>();

// Whether `error` says that `name` itself (not something it imports) cannot be found; loaders
// other than Node's own (a TypeScript register hook, a bundler) may leave the code out.
function isMissing(error: unknown, name: string): boolean {
  const message = String((error as { message?: unknown } | undefined)?.message ?? '');
  return message.startsWith(`Cannot find package '${name}'`) || message.startsWith(`Cannot find module '${name}'`);
}

/**
 * Loads an optional peer package the first time a feature needs it. When it is not installed,
 * throws `PEER_MISSING` naming the package, the feature and the command that installs it.
 */
export function loadPeer<T>(name: string, feature: string): Promise<T> {
  let module = loaded.get(name);
  if (!module) {
    module = import(name).catch((error: unknown) => {
      loaded.delete(name);
      if (!isMissing(error, name)) throw error;
      throw SetupError.peerMissing(name, feature, error);
    });
    loaded.set(name, module);
  }
  return module as Promise<T>;
}
