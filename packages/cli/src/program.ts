import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isEntitySyncError, type DocumentEncoding } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import { deleteGraph, exportGraph, importGraph, type ConflictPolicy, type RootRef } from '@entity-sync/adapters/mikro-orm';
import type { CliIo } from './cli-io.js';
import { loadConfig, openOrm, type LoadedConfig } from './config-loader.js';
import { apiCommand, auditCommand, logCommand } from './api-commands.js';
import { cqrsCommand } from './cqrs-commands.js';
import { diffCommand } from './diff-commands.js';
import { pullCommand } from './env-sync-commands.js';
import { progressDisplay } from './progress.js';
import { parseRootSpec } from './root-spec.js';
import { describeDelete, describeExport, describeImport } from './summaries.js';

// the package's own version: package.json is one folder above src/ and dist/ alike
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const collect = (value: string, previous: string[] = []) => [...previous, value];
const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
  return n;
};

function roots(specs: string[]): RootRef[] {
  return specs.map((spec) => {
    const { entity, key } = parseRootSpec(spec);
    return { entity, key };
  });
}

/** The `entity-sync` command line: export, import and delete of object graphs, environment sync, CQRS replication, the sync API and its audit trail. */
export function createProgram(io: CliIo): Command {
  const program = new Command('entity-sync')
    .description('Copy, replicate, sync and reconcile MikroORM entity data')
    .version(version, '-V, --version', 'print the version of entity-sync')
    .option('-c, --config <file>', 'MikroORM config module (default: package.json "mikro-orm".configPaths, then ./src/mikro-orm.config.ts, ./mikro-orm.config.js...)')
    .exitOverride()
    // commander ends what it prints with a newline, as io.out does
    .configureOutput({ writeOut: (text) => io.out(text.replace(/\n$/, '')), writeErr: io.err });

  // the config module is loaded once per run, on first use (dead-letters may need its transport only)
  let config: Promise<LoadedConfig> | undefined;
  const loadedConfig = () => (config ??= loadConfig(program.opts<{ config?: string }>().config, io.cwd));
  const withOrm = async <T>(work: (orm: MikroORM) => Promise<T>): Promise<T> => {
    const orm = await openOrm(await loadedConfig());
    try {
      return await work(orm);
    } finally {
      await orm.close();
    }
  };

  program.command('export')
    .description('export roots (Entity:pk ...) and everything they need and own to a file')
    .argument('<roots...>', 'roots as Entity:pk; quote keys with colons ("Tag:\\"a:b\\""), composite keys as JSON lists (Shelf:["W1",3])')
    .requiredOption('-o, --output <file>', 'file to write')
    .addOption(new Option('--format <format>', 'json or ndjson').choices(['json', 'ndjson']).default('json'))
    .option('--follow <relation>', 'also follow this relation (repeatable)', collect)
    .option('--exclude-relation <relation>', 'never follow this relation (repeatable)', collect)
    .option('--max-rows <n>', 'stop when the graph passes n rows', positiveInt)
    .option('--max-depth <n>', 'collect owned rows at most n levels below a root', positiveInt)
    .option('--no-timestamp', 'leave the export time out of the header: the same data gives the same bytes')
    .option('--json', 'print the result as JSON')
    .action(async (specs: string[], opts: { output: string; format: DocumentEncoding; follow?: string[]; excludeRelation?: string[]; maxRows?: number; maxDepth?: number; timestamp: boolean; json?: boolean }) => {
      const progress = progressDisplay(!opts.json);
      const result = await withOrm((orm) => exportGraph(orm.em.fork(), roots(specs), {
        to: opts.output, format: opts.format, follow: opts.follow, excludeRelations: opts.excludeRelation,
        ...(opts.timestamp ? {} : { exportedAt: null }),
        maxRows: opts.maxRows, maxDepth: opts.maxDepth, onProgress: (p) => progress.update(p),
      })).finally(() => progress.stop());
      io.out(opts.json ? JSON.stringify({ rows: result.rows, statements: result.statements, entities: result.header.entities.map((e) => ({ name: e.name, rows: e.rows })) }) : describeExport(result, opts.output));
    });

  program.command('import')
    .description('import a graph file in one transaction')
    .argument('<file>', 'a file written by entity-sync export (json or ndjson)')
    .option('--dry-run', 'do everything, report it, and roll back')
    .addOption(new Option('--on-conflict <policy>', 'what to do with rows that exist').choices(['fail', 'skip', 'overwrite', 'remap']).default('fail'))
    .addOption(new Option('--match-by <what>', 'natural-key: reuse rows whose natural key exists').choices(['primary-key', 'natural-key']).default('primary-key'))
    .option('--disable-triggers', "write rows exactly as in the file: the tables' user triggers are off while they go in (needs the tables' owner)")
    .option('--json', 'print the report as JSON')
    .action(async (file: string, opts: { dryRun?: boolean; onConflict: ConflictPolicy; matchBy: string; disableTriggers?: boolean; json?: boolean }) => {
      const progress = progressDisplay(!opts.json);
      const report = await withOrm((orm) => importGraph(orm.em.fork(), file, {
        dryRun: !!opts.dryRun, onConflict: opts.onConflict,
        matchBy: opts.matchBy === 'natural-key' ? 'naturalKey' : 'primaryKey', triggers: opts.disableTriggers ? 'disable' : 'fire',
        onProgress: (p) => progress.update(p),
      })).finally(() => progress.stop());
      io.out(opts.json ? JSON.stringify(report) : describeImport(report));
    });

  program.command('delete')
    .description('delete roots (Entity:pk ...), the rows they own and the rows that reference them')
    .argument('<roots...>', 'roots as Entity:pk')
    .option('--dry-run', 'plan and report, change nothing')
    .option('--archive <file>', 'export exactly the deleted rows to this file first (import restores them)')
    .option('--exclude-relation <relation>', 'a nullable relation whose rows are kept with the key set to NULL (repeatable)', collect)
    .option('--json', 'print the report as JSON')
    .action(async (specs: string[], opts: { dryRun?: boolean; archive?: string; excludeRelation?: string[]; json?: boolean }) => {
      const progress = progressDisplay(!opts.json);
      const report = await withOrm((orm) => deleteGraph(orm.em.fork(), roots(specs), {
        dryRun: !!opts.dryRun, archiveTo: opts.archive, excludeRelations: opts.excludeRelation, onProgress: (p) => progress.update(p),
      })).finally(() => progress.stop());
      io.out(opts.json ? JSON.stringify(report) : describeDelete(report));
    });

  // a command built apart (and its subcommands) inherits exitOverride and the output settings only when told to
  for (const command of [pullCommand(io, withOrm, loadedConfig), cqrsCommand(io, withOrm, loadedConfig), apiCommand(io, withOrm), auditCommand(io, withOrm), logCommand(io, withOrm), diffCommand(io, withOrm)]) {
    command.copyInheritedSettings(program);
    for (const sub of command.commands) sub.copyInheritedSettings(command);
    program.addCommand(command);
  }

  return program;
}

/** Runs the CLI; resolves to the exit code (0 success, 1 a failed operation, 2 a usage error). */
export async function runCli(argv: string[], io: CliIo = { out: (t) => console.log(t), err: (t) => process.stderr.write(t), cwd: process.cwd() }): Promise<number> {
  const program = createProgram(io);
  // with --json a failure is JSON on stdout too, for scripts: {"error":{"code","message","info"}}
  const json = argv.includes('--json');
  const failed = (exitCode: number, code: string, message: string, info: Record<string, unknown> = {}) => {
    if (json) io.out(JSON.stringify({ error: { code, message, info } }));
    return exitCode;
  };
  try {
    await program.parseAsync(argv, { from: 'user' });
    return io.exitCode ?? 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has already printed what was wrong on stderr
      return error.exitCode === 0 ? 0 : failed(2, 'USAGE', error.message.replace(/^error: /, ''), { commander: error.code });
    }
    if (isEntitySyncError(error)) {
      io.err(`error [${error.code}]: ${error.message}\n`);
      return failed(1, error.code, error.message, error.info);
    }
    const message = (error as Error).message ?? String(error);
    io.err(`error: ${message}\n`);
    return failed(1, 'UNEXPECTED', message);
  }
}
