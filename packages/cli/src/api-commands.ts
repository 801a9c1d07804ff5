import { Command, InvalidArgumentError, Option } from 'commander';
import type { MikroORM } from '@mikro-orm/core';
import { auditTrail, exportSyncLog, installAudit, installPushPull, pruneAudit, pruneSyncLog, servedModelList } from '@entity-sync/adapters/mikro-orm';
import type { CliIo } from './cli-io.js';

type WithOrm = <T>(work: (orm: MikroORM) => Promise<T>) => Promise<T>;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An age such as `90d`, `12h`, `30m`, `45s` or `500ms`, in milliseconds. */
const age = (value: string) => {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError(`expected an age such as 90d, 12h, 30m or 45s, got '${value}'`);
  return Number(match[1]) * UNIT_MS[match[2]!]!;
};
const count = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
  return n;
};
const when = (value: string) => {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError(`expected a date or time (2026-01-31, 2026-01-31T12:00:00Z), got '${value}'`);
  return date;
};
const models = (value: string) => value.split(',').map((name) => name.trim()).filter(Boolean);

/** The `entity-sync api` commands: setting up the push/pull sync API and its audit trail. */
export function apiCommand(io: CliIo, withOrm: WithOrm): Command {
  const api = new Command('api').description('the push/pull sync API: what it serves, its change capture and audit trail');
  api.command('install')
    .description('create the sync API\'s tables and change capture, and the audit trail of @SyncModel({ audit }) entities (idempotent, like a migration)')
    .option('--audit <names>', 'also audit these entities, comma-separated', models)
    .action(async (opts: { audit?: string[] }) => {
      await withOrm(async (orm) => {
        const served = await installPushPull(orm.em.fork());
        const audited = await installAudit(orm.em.fork(), opts.audit ? { models: opts.audit } : {});
        io.out(`change capture: ${served.join(', ') || 'no @SyncModel entities'}; audit trail: ${audited.join(', ') || 'no audited entities'}`);
      });
    });
  api.command('models')
    .description('print the models the sync API serves (decorated and discovered), with the fields each exposes and withholds')
    .option('--json', 'print them as JSON')
    .action(async (opts: { json?: boolean }) => {
      const models = await withOrm(async (orm) => servedModelList(orm));
      if (opts.json) return io.out(JSON.stringify({ models }));
      if (!models.length) return io.out('no models served: mark entities @SyncModel, or add discovery rules (discoverSyncModels)');
      io.out(models.map((model) => [
        `${model.model} (table ${model.table}, ${model.source === 'discovery' ? 'discovered' : '@SyncModel'}; key ${model.key.join(', ')}` +
          `${model.tenant ? `; tenant ${model.tenant}` : '; shared by every tenant'}${model.audited ? '; audited' : ''})`,
        `  fields: ${model.fields.join(', ')}`,
        ...(model.withheld.length ? [`  withheld: ${model.withheld.map((field) => `${field.property} (${field.by === 'dropFields' ? 'dropFields rule' : '@SyncModel options'})`).join(', ')}`] : []),
      ].join('\n')).join('\n'));
    });
  return api;
}

/** The `entity-sync audit` commands: reading and pruning the audit trail. */
export function auditCommand(io: CliIo, withOrm: WithOrm): Command {
  const audit = new Command('audit').description('the audit trail of audited entities: list it, apply its retention');
  audit.command('prune')
    .description('remove the entries past each model\'s retention (@SyncModel({ audit: { retention } })), or as the options say')
    .option('--model <name>', 'prune this model only')
    .option('--older-than <age>', 'remove entries older than this (90d, 12h, 30m)', age)
    .option('--keep <n>', 'keep at most the newest n entries of each model', count)
    .option('--json', 'print what was removed as JSON')
    .action(async (opts: { model?: string; olderThan?: number; keep?: number; json?: boolean }) => {
      const removed = await withOrm((orm) => pruneAudit(orm.em.fork(), { model: opts.model, olderThan: opts.olderThan, keep: opts.keep }));
      io.out(opts.json ? JSON.stringify({ removed }) : Object.entries(removed).map(([model, n]) => `${model}: ${n} entries removed`).join('\n') || 'no audited models');
    });
  audit.command('list')
    .description('print the trail\'s entries, newest first, one JSON object a line (NDJSON)')
    .option('--model <name>', 'entries of this model')
    .option('--key <json>', 'entries of this row: its primary key as JSON (42, "abc", ["a", 1]); needs --model', (value: string) => {
      try {
        return JSON.parse(value) as unknown;
      } catch (error) {
        throw new InvalidArgumentError(`expected the key as JSON (42, "abc", ["a", 1]), got '${value}' (${(error as Error).message})`);
      }
    })
    .option('--actor <name>', 'entries of changes made by this actor')
    .option('--since <time>', 'entries from this time on', when)
    .option('--until <time>', 'entries before this time', when)
    .option('--limit <n>', 'at most n entries (default all)', count)
    .action(async (opts: { model?: string; key?: unknown; actor?: string; since?: Date; until?: Date; limit?: number }) => {
      await withOrm(async (orm) => {
        let left = opts.limit ?? Infinity;
        let cursor: string | null = null;
        do {
          const page = await auditTrail(orm.em.fork(), { model: opts.model, key: opts.key, actor: opts.actor, since: opts.since, until: opts.until, cursor, limit: Math.min(1000, left) });
          for (const entry of page.entries) io.out(JSON.stringify(entry));
          left -= page.entries.length;
          cursor = page.cursor;
        } while (cursor && left > 0);
      });
    });
  return audit;
}

/** The `entity-sync log` commands: exporting and pruning the sync log. */
export function logCommand(io: CliIo, withOrm: WithOrm): Command {
  const log = new Command('log').description('the sync log of the sync API\'s requests: export it, apply its retention');
  log.command('export')
    .description('print the entries, newest first, as CSV (with a header line) or NDJSON')
    .addOption(new Option('--format <format>', 'csv or ndjson').choices(['csv', 'ndjson']).default('csv'))
    .option('--user <name>', 'entries of this user')
    .option('--tenant <name>', 'entries of this tenant')
    .option('--endpoint <name>', 'entries of this endpoint (pull, push, rxdb-pull, ...)')
    .option('--failed', 'only failed requests')
    .option('--since <time>', 'entries from this time on', when)
    .option('--until <time>', 'entries before this time', when)
    .action(async (opts: { format: 'csv' | 'ndjson'; user?: string; tenant?: string; endpoint?: string; failed?: boolean; since?: Date; until?: Date }) => {
      await withOrm(async (orm) => {
        for await (const lines of exportSyncLog(orm.em.fork(), { ...opts, failed: opts.failed ? true : undefined })) io.out(lines.replace(/\r?\n$/, ''));
      });
    });
  log.command('prune')
    .description('remove the entries older than --older-than and past the newest --keep')
    .option('--older-than <age>', 'remove entries older than this (30d, 12h)', age)
    .option('--keep <n>', 'keep at most the newest n entries', count)
    .option('--json', 'print what was removed as JSON')
    .action(async (opts: { olderThan?: number; keep?: number; json?: boolean }) => {
      const removed = await withOrm((orm) => pruneSyncLog(orm.em.fork(), { olderThan: opts.olderThan, keep: opts.keep }));
      io.out(opts.json ? JSON.stringify({ removed }) : `${removed} entries removed`);
    });
  return log;
}
