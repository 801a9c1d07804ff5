import { Command, InvalidArgumentError, Option } from 'commander';
import { CommandLineError } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import {
  captureStatus, diffMaster, diffReplica, diffSync, dumpMaster, EntitySync, installOutbox, installReplica, loadReplica, OutboxRelay, ReplicaConsumer,
  syncMaster, type CaptureMode, type ConsumerStats,
} from '@entity-sync/adapters/mikro-orm';
import { inputLines } from './input-lines.js';
import { writeLines } from './line-output.js';
import type { CliIo } from './cli-io.js';
import type { LoadedConfig } from './config-loader.js';
import { adminMethod, chooseTransport, type ChosenTransport } from './cqrs-transport.js';

type WithOrm = <T>(work: (orm: MikroORM) => Promise<T>) => Promise<T>;

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number above 0, got '${value}'`);
  return n;
};

/** Resolves on the first SIGTERM or SIGINT (a clean stop), and stops listening for them. */
function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.removeListener('SIGTERM', stop);
      process.removeListener('SIGINT', stop);
      resolve(signal);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

function replicaQueue(orm: MikroORM, explicit: string | undefined): string {
  if (explicit) return explicit;
  const sync = EntitySync.of(orm);
  const queues = new Set([...sync.graph.nodes.keys()].map((name) => sync.registryEntry(name)?.replica?.options.queue).filter((q): q is string => !!q));
  if (queues.size === 1) return [...queues][0]!;
  throw CommandLineError.queueNeeded([...queues]);
}

const jsonFilter = (value: string) => {
  try {
    const filter = JSON.parse(value) as unknown;
    if (typeof filter === 'object' && filter !== null && !Array.isArray(filter)) return filter as object;
  } catch {
    // reported below
  }
  throw new InvalidArgumentError(`expected a JSON object (a MikroORM filter such as '{"id":{"$in":[1,2]}}'), got '${value}'`);
};

function describeStats(stats: ConsumerStats): string {
  const lag = stats.lagP50Ms === null ? 'lag -' : `lag p50 ${stats.lagP50Ms} ms p99 ${stats.lagP99Ms} ms`;
  return `applied ${stats.applied} (${stats.perSecond.toFixed(1)}/s), duplicates ${stats.duplicates}, stale ${stats.stale}, ` +
    `gaps ${stats.gaps}, failed ${stats.failed}, ${lag}`;
}

/** The `entity-sync cqrs ...` commands. */
export function cqrsCommand(io: CliIo, withOrm: WithOrm, config: () => Promise<LoadedConfig>): Command {
  const cqrs = new Command('cqrs')
    .description('CQRS replication: outbox relay, replica consumers, dead letters, repair tools')
    .option('-t, --transport <url>', 'amqp://... (RabbitMQ) or postgres://... (message table); default $ENTITY_SYNC_TRANSPORT, then the config module\'s transport export')
    .option('--max-attempts <n>', 'attempts before a message goes to the dead letters (default 5)', positive)
    .option('--retry-delay <ms>', 'delay before the first retry, doubling for each next one (default 200)', positive);

  const transportUrl = () => cqrs.opts<{ transport?: string }>().transport || process.env.ENTITY_SYNC_TRANSPORT || undefined;
  const withChosen = async <T>(work: (chosen: ChosenTransport) => Promise<T>): Promise<T> => {
    const { maxAttempts, retryDelay } = cqrs.opts<{ maxAttempts?: number; retryDelay?: number }>();
    const chosen = await chooseTransport(transportUrl(), config, {
      maxAttempts, retryDelayMs: retryDelay, onError: (error) => io.err(`transport: ${(error as Error).message ?? String(error)}\n`),
    });
    try {
      return await work(chosen);
    } finally {
      await chosen.transport.close();
    }
  };
  const withTransport = <T>(work: (transport: ChosenTransport['transport']) => Promise<T>) => withChosen((chosen) => work(chosen.transport));

  cqrs.command('install')
    .description('create the outbox and the capture of changes (masters), the revision table (replicas) and the replica queue')
    .option('--queue <name>', 'declare this replica service queue on the transport, bound to the ORM\'s @Replica ids')
    .addOption(new Option('--capture <mode>', 'how masters capture changes: trigger (in the writing transaction) or wal (a logical replication slot; ' +
      'needs wal_level = logical)').choices(['trigger', 'wal']).default('trigger'))
    .action(async (opts: { queue?: string; capture: CaptureMode }) => {
      await withOrm(async (orm) => {
        const masters = await installOutbox(orm.em.fork(), { capture: opts.capture });
        const sync = EntitySync.of(orm);
        const replicaIds = [...sync.graph.nodes.keys()].map((name) => sync.registryEntry(name)?.replica?.cqrsId).filter((id): id is string => !!id);
        if (replicaIds.length) await installReplica(orm.em.fork());
        if (opts.queue && !replicaIds.length) {
          throw CommandLineError.queueWithoutReplicas(opts.queue);
        }
        if (replicaIds.length && (opts.queue || transportUrl() || (await config()).transport)) {
          const queue = replicaQueue(orm, opts.queue);
          await withChosen(async (chosen) => {
            // a queue asked for by name must be declared; the one of the @Replica options is declared when the transport can
            if (!opts.queue && typeof chosen.transport.declareQueue !== 'function') {
              io.out(`queue not declared: ${chosen.source} has no declareQueue(); declare queue ${queue} with the broker's own tools.`);
              return;
            }
            await adminMethod(chosen, 'declareQueue', `declare queue ${queue}`)(queue, replicaIds);
            io.out(`declared queue ${queue} on ${chosen.source}, bound to ${replicaIds.join(', ')}`);
          });
        } else if (replicaIds.length) {
          io.out('queue not declared: no transport given. Pass --transport <url> (or set ENTITY_SYNC_TRANSPORT, or export a transport factory ' +
            'from the config) to declare the replica queue now; otherwise `cqrs consume` declares it when it first starts.');
        }
        io.out(`${opts.capture === 'wal' ? 'WAL' : 'outbox'} capturing: ${masters.join(', ') || 'no @Master entities'}; replicas: ${replicaIds.join(', ') || 'none'}`);
      });
    });

  cqrs.command('status')
    .description('the master\'s capture: its mode, outbox entries waiting, and with WAL capture the slot\'s lag and retained WAL')
    .option('--warn-retained <megabytes>', 'warn when the slot retains more WAL than this', positive, 1024)
    .option('--json', 'print the status as JSON')
    .action(async (opts: { warnRetained: number; json?: boolean }) => {
      await withOrm(async (orm) => {
        const status = await captureStatus(orm.em.fork(), { warnRetainedBytes: opts.warnRetained * 1024 * 1024 });
        if (opts.json) {
          io.out(JSON.stringify(status));
        } else {
          io.out(`capture: ${status.mode}; outbox entries waiting: ${status.outboxPending}`);
          if (status.slot) {
            const { name, active, lagBytes, retainedBytes, walStatus } = status.slot;
            io.out(`slot ${name}: ${active ? 'read by a relay' : 'no relay reading'}, lag ${lagBytes} bytes, retains ${retainedBytes} bytes of WAL (${walStatus})`);
          }
        }
        for (const warning of status.warnings) io.err(`warning: ${warning}\n`);
        if (status.warnings.length) io.exitCode = 1;
      });
    });

  cqrs.command('relay')
    .description('publish committed changes (the outbox, or the slot\'s stream with WAL capture); runs until SIGTERM, woken by NOTIFY on commit with trigger capture')
    .option('--once', 'publish what is in the outbox now, then exit')
    .option('--batch-size <n>', 'outbox entries per batch', positive, 1000)
    .option('--poll <ms>', 'look at the outbox this often when no NOTIFY arrives (trigger capture; WAL capture streams)', positive, 1000)
    .action(async (opts: { once?: boolean; batchSize: number; poll: number }) => {
      await withOrm((orm) => withTransport(async (transport) => {
        if (opts.once) {
          const { relayed } = await new OutboxRelay(orm.em.fork(), transport, { batchSize: opts.batchSize }).relayPending();
          io.out(`relayed ${relayed} outbox entries`);
          return;
        }
        const relay = new OutboxRelay(orm.em.fork(), transport, {
          batchSize: opts.batchSize, pollMs: opts.poll, onError: (error) => io.err(`relay: ${(error as Error).message} (retrying)\n`),
        });
        const stopped = untilStopped();
        await relay.start();
        io.err('relay: running; SIGTERM stops it\n');
        await stopped;
        await relay.stop();
        io.out(`relayed ${relay.relayed} outbox entries`);
      }));
    });

  cqrs.command('consume')
    .description('apply messages to this ORM\'s @Replica entities until SIGTERM (in-flight messages finish, the rest return to the queue)')
    .option('--queue <name>', 'the replica service\'s queue (default: the queue in @Replica options)')
    .option('--workers <n>', 'competing consumers', positive, 1)
    .option('--report-every <seconds>', 'print throughput and lag this often', positive, 10)
    .option('--json', 'print the final counters as JSON')
    .action(async (opts: { queue?: string; workers: number; reportEvery: number; json?: boolean }) => {
      await withOrm((orm) => withTransport(async (transport) => {
        await installReplica(orm.em.fork());
        const consumer = new ReplicaConsumer(orm.em.fork(), transport, {
          queue: replicaQueue(orm, opts.queue),
          workers: opts.workers,
          onMessage: (message, outcome) => {
            if (outcome instanceof Error) io.err(`consume: ${message.id} failed: ${outcome.message}\n`);
          },
        });
        const stopped = untilStopped();
        await consumer.start();
        io.err(`consume: ${opts.workers} worker(s) on ${replicaQueue(orm, opts.queue)} for ${consumer.cqrsIds.join(', ')}; SIGTERM stops\n`);
        const report = setInterval(() => io.err(`consume: ${describeStats(consumer.stats())}\n`), opts.reportEvery * 1000);
        await stopped;
        clearInterval(report);
        await consumer.stop();
        const stats = consumer.stats();
        io.out(opts.json ? JSON.stringify(stats) : `stopped: ${describeStats(stats)}`);
      }));
    });

  cqrs.command('dead-letters')
    .description('list the dead letters of a replica queue; --retry replays them, --purge drops them')
    .requiredOption('--queue <name>', 'the replica service\'s queue')
    .option('--retry', 'put them back in the queue (after fixing the cause)')
    .option('--purge', 'drop them')
    .option('--json', 'print JSON')
    .action(async (opts: { queue: string; retry?: boolean; purge?: boolean; json?: boolean }) => {
      if (opts.retry && opts.purge) throw CommandLineError.exclusiveOptions('--retry', '--purge');
      await withChosen(async (chosen) => {
        if (opts.retry || opts.purge) {
          const count = opts.retry
            ? await adminMethod(chosen, 'retryDeadLetters', `retry the dead letters of ${opts.queue}`)(opts.queue)
            : await adminMethod(chosen, 'purgeDeadLetters', `purge the dead letters of ${opts.queue}`)(opts.queue);
          io.out(opts.json ? JSON.stringify({ [opts.retry ? 'retried' : 'purged']: count }) : `${opts.retry ? 'retried' : 'purged'} ${count} dead letter(s)`);
          return;
        }
        const letters = await adminMethod(chosen, 'deadLetters', `list the dead letters of ${opts.queue}`)(opts.queue);
        io.out(opts.json ? JSON.stringify(letters)
          : letters.length === 0 ? `no dead letters in ${opts.queue}`
            : letters.map((l) => `${l.message?.id ?? `unreadable body ${JSON.stringify(l.body ?? '')}`} (${l.attempts} attempt(s)): ${l.error}`).join('\n'));
      });
    });

  cqrs.command('dump')
    .description('stream the rows of a @Master as sync messages (bulk copy without the transport)')
    .requiredOption('--id <cqrsId>', 'the CQRS id')
    .option('-o, --output <file>', 'file to write (default: standard output)')
    .option('--filter <json>', 'only rows matching this MikroORM filter', jsonFilter)
    .action(async (opts: { id: string; output?: string; filter?: object }) => {
      const lines = await withOrm((orm) => writeLines(io.cwd, opts.output, dumpMaster(orm.em.fork(), { cqrsId: opts.id, filter: opts.filter })));
      if (opts.output && opts.output !== '-') io.out(`dumped ${lines - 2} ${opts.id} row(s) to ${opts.output}`);
    });

  cqrs.command('load')
    .description('apply a dump to this ORM\'s @Replica in one transaction, behind the revision guard')
    .option('-i, --input <file>', 'the dump (default: standard input)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { input?: string; json?: boolean }) => {
      const result = await withOrm((orm) => loadReplica(orm.em.fork(), inputLines(io.cwd, opts.input)));
      io.out(opts.json ? JSON.stringify(result) : `loaded: ${result.applied} applied, ${result.skipped} skipped (the replica had them at that revision or newer)`);
    });

  cqrs.command('sync')
    .description('re-publish chosen master rows (sync messages) to every replica, or to one queue')
    .requiredOption('--id <cqrsId>', 'the CQRS id')
    .option('--filter <json>', 'only rows matching this MikroORM filter', jsonFilter)
    .option('--queue <name>', 'publish to this replica queue only')
    .action(async (opts: { id: string; filter?: object; queue?: string }) => {
      const { published } = await withOrm((orm) => withTransport((transport) =>
        syncMaster(orm.em.fork(), transport, { cqrsId: opts.id, filter: opts.filter, queue: opts.queue })));
      io.out(`published ${published} sync message(s)${opts.queue ? ` to ${opts.queue}` : ''}`);
    });

  cqrs.command('diff-master')
    .description('on the master: stream the keys, revisions and published state of a @Master (pipe into diff-replica)')
    .requiredOption('--id <cqrsId>', 'the CQRS id')
    .option('--no-content', 'list keys and revisions only: finds missing, extra and stale rows, not content changed at an equal revision')
    .action(async (opts: { id: string; content: boolean }) => {
      await withOrm((orm) => writeLines(io.cwd, undefined, diffMaster(orm.em.fork(), { cqrsId: opts.id, content: opts.content })));
    });

  cqrs.command('diff-replica')
    .description('on the replica: read diff-master from standard input, write what is missing, stale, extra or changed (pipe into diff-sync)')
    .action(async () => {
      await withOrm((orm) => writeLines(io.cwd, undefined,
        diffReplica(orm.em.fork(), inputLines(io.cwd, undefined), { onWarning: (message) => io.err(`diff-replica: ${message}\n`) })));
    });

  cqrs.command('diff-sync')
    .description('on the master: read diff-replica from standard input, re-publish missing, stale and changed rows, delete extra ones on the replica')
    .option('--queue <name>', 'publish to this replica queue only (default: every replica)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { queue?: string; json?: boolean }) => {
      const result = await withOrm((orm) => withTransport((transport) =>
        diffSync(orm.em.fork(), transport, inputLines(io.cwd, undefined), { queue: opts.queue })));
      io.out(opts.json ? JSON.stringify(result) : `re-published ${result.republished} row(s), deleted ${result.deleted} replica row(s) the master no longer has`);
    });

  return cqrs;
}
