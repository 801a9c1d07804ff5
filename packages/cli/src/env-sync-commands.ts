import { Command, InvalidArgumentError } from 'commander';
import type { MikroORM } from '@mikro-orm/core';
import { pullFrom } from '@entity-sync/adapters/mikro-orm';
import type { CliIo } from './cli-io.js';
import type { LoadedConfig } from './config-loader.js';
import { progressDisplay } from './progress.js';
import { describePull } from './pull-summary.js';

type WithOrm = <T>(work: (orm: MikroORM) => Promise<T>) => Promise<T>;

const modelList = (value: string) => {
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  if (!names.length) throw new InvalidArgumentError(`expected entity names separated by commas (Country,Language), got '${value}'`);
  return names;
};

/** The `entity-sync pull` command: environment sync from another installation's endpoint. */
export function pullCommand(io: CliIo, withOrm: WithOrm, config: () => Promise<LoadedConfig>): Command {
  return new Command('pull')
    .description('pull reference data (@SyncModel entities) from another environment by natural key, in one transaction')
    .argument('<url>', 'the source\'s environment-sync endpoint: the prefix envSyncRoutes is mounted under (https://staging.example.com/entity-sync)')
    .option('--models <names>', 'pull only these models, comma-separated (default every model the source serves)', modelList)
    .option('--dry-run', 'compute and print the diff, write nothing')
    .option('--delete-missing', 'delete rows of the pulled models that the source lacks (refused when that reaches other tables)')
    .option('--token <token>', 'bearer token (a static token or a JWT); default $ENTITY_SYNC_TOKEN')
    .option('--json', 'print the report as JSON')
    .action(async (url: string, opts: { models?: string[]; dryRun?: boolean; deleteMissing?: boolean; token?: string; json?: boolean }) => {
      const { storage } = await config();
      const progress = progressDisplay(!opts.json);
      const report = await withOrm((orm) => pullFrom(orm.em.fork(), url, {
        token: opts.token || process.env.ENTITY_SYNC_TOKEN || undefined, models: opts.models, dryRun: !!opts.dryRun,
        deleteMissing: !!opts.deleteMissing, storage, onProgress: (p) => progress.update(p),
      })).finally(() => progress.stop());
      io.out(opts.json ? JSON.stringify(report) : describePull(report, url));
    });
}
