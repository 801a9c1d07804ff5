import { pullFrom } from '@entity-sync/adapters/mikro-orm';
import type { EntityManager } from '@mikro-orm/core';
import type { SourceServer } from './source-server.js';

/**
 * THE SEAM: the one place where the bench calls environment sync. Everything else (schema, data,
 * limits, timing, memory, verification) is built around it.
 *
 * It pulls every `@SyncModel` of ./entities.ts (region, currency, country, language, copy_text,
 * each with its natural key) that `source` serves over HTTP (./source-server.ts: the source
 * database's `envSyncRoutes` behind a static token, in a process of its own on 127.0.0.1) into
 * the database of `targetEm`, matching rows by natural key, in one transaction:
 * - `targetEm` is a fresh fork of an ORM with the same entities on the target database, whose
 *   id sequences start at 1,000,000,001 so that no id matches the source's. It is empty before
 *   the first pull; the runner calls `pullOnce` a second time on the unchanged source, which
 *   must write nothing (the runner counts the target rows whose xmin changed).
 * - It resolves once the pull has committed, to `rows`: how many source rows it received and
 *   matched (created, updated or unchanged), which the runner compares with the rows generated.
 * - The runner times the whole call (the source's export, the transfer and the pull), and calls
 *   it in a child process alone (./pull-worker.ts) to read the pulling side's peak memory.
 */
export async function pullOnce(source: SourceServer, targetEm: EntityManager): Promise<{ rows: number }> {
  const report = await pullFrom(targetEm, source.url, { token: source.token });
  return { rows: report.models.reduce((sum, model) => sum + model.created + model.updated + model.unchanged, 0) };
}
