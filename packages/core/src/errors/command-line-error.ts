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

  /** A command that needs a transport was given none. */
  static noTransport(): CommandLineError {
    return new CommandLineError('USAGE', 'No transport: pass --transport <url> (amqp://... or postgres://...) or set ENTITY_SYNC_TRANSPORT.');
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
