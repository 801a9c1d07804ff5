import { CommandLineError, isEntitySyncError, TransportError, type Transport, type TransportAdmin, type TransportSettings } from '@entity-sync/core';
import type { LoadedConfig } from './config-loader.js';
import { openTransport, redactUrl } from './transport-url.js';

/** The transport a cqrs command works with, and how to name it in what the command prints. */
export interface ChosenTransport {
  transport: Transport & TransportAdmin;
  /** `amqp://***@host/vhost`, or `the transport export of /app/mikro-orm.config.js`. */
  source: string;
}

/**
 * The transport of the cqrs commands, first found of: `--transport <url>`, `$ENTITY_SYNC_TRANSPORT`,
 * the `transport` export of the config module (a `TransportFactory`, for a broker of the app's own).
 */
export async function chooseTransport(url: string | undefined, config: () => Promise<LoadedConfig>, settings: TransportSettings): Promise<ChosenTransport> {
  if (url) return { transport: await openTransport(url, settings), source: redactUrl(url) };
  let loaded: LoadedConfig;
  try {
    loaded = await config();
  } catch (error) {
    if (isEntitySyncError(error, 'CONFIG_NOT_FOUND')) throw CommandLineError.noTransport(undefined, error);
    throw error;
  }
  if (!loaded.transport) throw CommandLineError.noTransport(loaded.path);
  const source = `the transport export of ${loaded.path}`;
  let transport: unknown;
  try {
    transport = await loaded.transport(settings);
  } catch (error) {
    if (isEntitySyncError(error)) throw error;
    throw CommandLineError.transportFactoryFailed(loaded.path, error);
  }
  const lacking = (['publish', 'subscribe', 'close'] as const).filter((method) => typeof (transport as Record<string, unknown> | null)?.[method] !== 'function');
  if (lacking.length) throw CommandLineError.notATransport(loaded.path, lacking);
  return { transport: transport as Transport & TransportAdmin, source };
}

type AdminMethod = keyof TransportAdmin;

/** The admin method a command needs, bound to its transport; `TRANSPORT_UNSUPPORTED` when the transport has none. */
export function adminMethod<M extends AdminMethod>(chosen: ChosenTransport, method: M, purpose: string): NonNullable<TransportAdmin[M]> {
  const implementation = chosen.transport[method];
  if (typeof implementation !== 'function') {
    throw TransportError.unsupported(method, purpose, chosen.source);
  }
  return (implementation as (...args: never[]) => unknown).bind(chosen.transport) as NonNullable<TransportAdmin[M]>;
}
