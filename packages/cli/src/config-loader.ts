import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CommandLineError, type FileStorage, type TransportFactory } from '@entity-sync/core';
import { MikroORM, type Options } from '@mikro-orm/core';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';

// as the mikro-orm CLI looks, compiled ES module and CommonJS configs included
const DEFAULT_PATHS = ['./src/mikro-orm.config.ts', './mikro-orm.config.ts',
  ...['./dist/', './build/', './'].flatMap((dir) => ['js', 'mjs', 'cjs'].map((ext) => `${dir}mikro-orm.config.${ext}`))];

/** Where the app's MikroORM config is, the way the `mikro-orm` CLI looks for it. */
export function findConfigPath(explicit: string | undefined, cwd: string): string {
  const fromPackage = (() => {
    const file = resolve(cwd, 'package.json');
    if (!existsSync(file)) return [];
    const paths = (JSON.parse(readFileSync(file, 'utf8')) as { 'mikro-orm'?: { configPaths?: string[] } })['mikro-orm']?.configPaths;
    return Array.isArray(paths) ? paths : [];
  })();
  const candidates = explicit ? [explicit]
    : [process.env.MIKRO_ORM_CLI_CONFIG, ...fromPackage, ...DEFAULT_PATHS].filter((path): path is string => !!path);
  for (const candidate of candidates) {
    const path = isAbsolute(candidate) ? candidate : resolve(cwd, candidate);
    if (existsSync(path)) return path;
  }
  throw CommandLineError.configNotFound(candidates);
}

/** The app's config module, loaded: the MikroORM options (or ORM) it exports, and the transport factory and file storage it may export. */
export interface LoadedConfig {
  /** Absolute path of the module. */
  path: string;
  /** The default export (or `config`): MikroORM options, a function returning them, or an initialized MikroORM. */
  orm: unknown;
  /** The `transport` export, for the cqrs commands: builds a transport of the app's own. */
  transport?: TransportFactory;
  /** The `storage` export, for `pull`: where the file fields' files go. */
  storage?: FileStorage;
}

const FILE_STORAGE_METHODS = ['has', 'read', 'write', 'delete'] as const;

/** Loads the config module that `--config` names or discovery finds. */
export async function loadConfig(explicit: string | undefined, cwd = process.cwd()): Promise<LoadedConfig> {
  const path = findConfigPath(explicit, cwd);
  let loaded: Record<string, unknown>;
  try {
    loaded = await import(pathToFileURL(path).href) as Record<string, unknown>;
  } catch (error) {
    throw CommandLineError.configInvalid(path, error);
  }
  const { transport } = loaded;
  if (transport !== undefined && typeof transport !== 'function') {
    throw CommandLineError.transportExportNotAFactory(path, transport === null ? 'null' : typeof transport);
  }
  const { storage } = loaded;
  if (storage !== undefined) {
    const lacking = FILE_STORAGE_METHODS.filter((method) => typeof (storage as Record<string, unknown> | null)?.[method] !== 'function');
    if (lacking.length) throw CommandLineError.notAFileStorage(path, lacking);
  }
  return { path, orm: loaded.default ?? loaded.config ?? loaded, transport: transport as TransportFactory | undefined, storage: storage as FileStorage | undefined };
}

/** Opens the ORM of a loaded config with entity-sync attached. */
export async function openOrm(config: LoadedConfig): Promise<MikroORM> {
  let options = config.orm;
  if (typeof options === 'function') options = await (options as () => unknown)();
  if (options instanceof MikroORM) {
    EntitySync.attach(options);
    return options;
  }
  const orm = await MikroORM.init(options as Options);
  EntitySync.attach(orm);
  return orm;
}
