import { EntitySyncError } from './entity-sync-error.js';

/** The `entity-sync` command cannot run as called: no MikroORM config, one that does not load, or arguments that do not fit. */
export class CommandLineError extends EntitySyncError {
  /** No MikroORM config at any of the `candidates` paths. */
  static configNotFound(candidates: string[]): CommandLineError {
    return new CommandLineError('CONFIG_NOT_FOUND',
      `No MikroORM config found (looked at ${candidates.join(', ')}). Pass --config <file>, or list it in package.json under "mikro-orm": { "configPaths": [...] }.`,
      { info: { candidates } });
  }

  /** The config at `path` failed to load; `cause` is the import's error. */
  static configInvalid(path: string, cause: unknown): CommandLineError {
    const hint = path.endsWith('.ts')
      ? ' A TypeScript config needs a loader: point --config at the compiled .js file, or run under one (node --import @swc-node/register/esm-register).'
      : '';
    return new CommandLineError('CONFIG_INVALID', `Cannot load the MikroORM config ${path}: ${(cause as Error)?.message ?? String(cause)}.${hint}`,
      { cause, info: { path } });
  }

  /**
   * A command that needs a transport was given none: no --transport, no $ENTITY_SYNC_TRANSPORT,
   * and no `transport` export in the config module (`configPath`, when one was loaded).
   */
  static noTransport(configPath?: string, cause?: unknown): CommandLineError {
    return new CommandLineError('USAGE',
      'No transport: pass --transport <url> (amqp://... or postgres://...), set ENTITY_SYNC_TRANSPORT, or export a transport factory ' +
      `from the config module (\`export const transport: TransportFactory = (settings) => new MyTransport(...)\`).${configPath ? ` ${configPath} exports none.` : ''}`,
      { cause });
  }

  /** The config module's `transport` export is not a function (`kind`: what it is). */
  static transportExportNotAFactory(path: string, kind: string): CommandLineError {
    return new CommandLineError('CONFIG_INVALID',
      `The transport export of ${path} is a ${kind}, not a function: export a TransportFactory, ` +
      '`export const transport = (settings) => new MyTransport(...)`.', { info: { path, export: 'transport' } });
  }

  /** The config module's transport factory threw. */
  static transportFactoryFailed(path: string, cause: unknown): CommandLineError {
    return new CommandLineError('CONFIG_INVALID',
      `The transport export of ${path} failed: ${(cause as Error)?.message ?? String(cause)}.`, { cause, info: { path, export: 'transport' } });
  }

  /** The config module's transport factory returned an object without the `lacking` Transport methods. */
  static notATransport(path: string, lacking: string[]): CommandLineError {
    return new CommandLineError('CONFIG_INVALID',
      `The transport export of ${path} returned something that is not a Transport (no ${lacking.join(', ')}): return an object ` +
      'with publish(messages), subscribe(queue, cqrsIds, handler) and close().', { info: { path, export: 'transport', lacking } });
  }

  /** The config module's `storage` export is not a FileStorage (`lacking`: the methods it has not). */
  static notAFileStorage(path: string, lacking: string[]): CommandLineError {
    return new CommandLineError('CONFIG_INVALID',
      `The storage export of ${path} is not a FileStorage (no ${lacking.join(', ')}): export an object with has(hash), read(ref), ` +
      "write(hash, content) and delete(ref), such as `export const storage = new LocalDirectoryStorage('./files')` " +
      "(from '@entity-sync/adapters/storage').", { info: { path, export: 'storage', lacking } });
  }

  /** A transport URL of no known scheme; `url` is shown as given, so pass it with its password redacted. */
  static unknownTransportUrl(url: string): CommandLineError {
    return new CommandLineError('USAGE', `Unknown transport URL '${url}': use amqp://... (RabbitMQ) or postgres://... (PostgreSQL).`);
  }

  /** Two options that exclude each other were both given (`--retry`, `--purge`). */
  static exclusiveOptions(first: string, second: string): CommandLineError {
    return new CommandLineError('USAGE', `Pass ${first} or ${second}, not both.`);
  }

  /** No --queue, and the ORM's replicas name no queue or several (`queues`). */
  static queueNeeded(queues: string[]): CommandLineError {
    return new CommandLineError('USAGE', queues.length
      ? `Replicas of this ORM name several queues (${queues.join(', ')}): pass --queue.`
      : 'Pass --queue <name>: the replica service\'s queue (or set queue in @Replica options).');
  }

  /** --queue was given to an ORM with no `@Replica` entities to bind it to. */
  static queueWithoutReplicas(queue: string): CommandLineError {
    return new CommandLineError('USAGE',
      `--queue ${queue}: this ORM has no @Replica entities to bind it to. Run install with the replica service's config.`);
  }
}
