import { OptionError } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import { pruneAudit } from '../audit/audit-retention.js';
import { pruneSyncLog, type PruneSyncLogOptions } from '../sync-log/sync-log.js';

/** Options of `scheduleRetention`. */
export interface ScheduleRetentionOptions {
  /** How often to prune (default every hour). */
  everyMs?: number;
  /** Prune the audit trail by each model's retention (`pruneAudit`); default true. */
  audit?: boolean;
  /** Prune the sync log so (`pruneSyncLog`); default not at all. */
  syncLog?: PruneSyncLogOptions;
  /** Called with what each round removed: per audited model, and of the sync log. */
  onPruned?: (removed: { audit: Record<string, number>; syncLog: number }) => void;
  /** Called when a round fails (the schedule goes on); default a warning on the console. */
  onError?: (error: unknown) => void;
}

/**
 * Applies the retention of the audit trail and the sync log on a schedule, in this process: a
 * round every `everyMs`, never two at once. The timer does not keep the process alive; `stop()`
 * ends it and waits for a round under way. (`entity-sync audit prune` and `entity-sync log prune`
 * do one round from a cron job instead.)
 *
 * @example
 * ```ts
 * const retention = scheduleRetention(orm, { everyMs: 6 * 3600_000, syncLog: { olderThan: 30 * 86_400_000 } });
 * // on shutdown
 * await retention.stop();
 * ```
 */
export function scheduleRetention(orm: MikroORM, options: ScheduleRetentionOptions = {}): { stop(): Promise<void> } {
  const everyMs = options.everyMs ?? 3_600_000;
  if (!Number.isInteger(everyMs) || everyMs < 1000) throw OptionError.invalid('scheduleRetention', 'everyMs', everyMs, 'a whole number of milliseconds, 1000 or more');
  const onError = options.onError ?? ((error: unknown) => console.warn(`entity-sync: a scheduled retention round failed: ${(error as Error)?.message ?? String(error)}`));
  const round = async () => {
    const audit = options.audit === false ? {} : await pruneAudit(orm.em.fork());
    const syncLog = options.syncLog ? await pruneSyncLog(orm.em.fork(), options.syncLog) : 0;
    options.onPruned?.({ audit, syncLog });
  };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    // one round at a time: a slow one is not overtaken by the next tick
    running ??= round().catch(onError).finally(() => (running = undefined));
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
