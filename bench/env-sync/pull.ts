import type { EntityManager } from '@mikro-orm/core';

/** What `pullOnce` throws while environment sync is missing; the runner reports the pull's figures as not measured on it. */
export const PULL_MISSING = 'environment sync is not on this branch yet';

/**
 * THE SEAM: the one place where the bench calls environment sync. Everything else (schema, data,
 * limits, timing, memory, verification) is built around it.
 *
 * It pulls every entity of `referenceEntities` (./entities.ts: region, currency, country,
 * language, copy_text, each `@SyncModel` with its natural key) from the database of `sourceEm`
 * into the database of `targetEm`, matching rows by natural key:
 * - `sourceEm` is a fresh fork of an ORM (EntitySync extension, `referenceEntities`) on the
 *   source database; the pull only reads through it.
 * - `targetEm` is a fresh fork of an ORM with the same entities on the target database, whose
 *   id sequences start at 1,000,000,001 so that no id matches the source's. It is empty before
 *   the first pull; the runner calls `pullOnce` a second time on the unchanged source, which
 *   must write nothing (the runner counts the target rows whose xmin changed).
 * - It resolves once the pull has committed, to `rows`: how many source rows it received and
 *   matched (written or unchanged), which the runner compares with the rows generated.
 * - The runner times the whole call, and calls it in a child process alone (./pull-worker.ts) to
 *   read its peak memory, so whatever the pull needs (an HTTP server serving the source's
 *   export on 127.0.0.1, the client) belongs inside the call. In outline (the names are the
 *   environment-sync API's, whatever they end up being):
 *
 * ```ts
 * const server = await serveEnvSync(sourceEm, { models: referenceEntities });   // node:http on 127.0.0.1:0
 * try {
 *   const report = await pullFrom(server.url, { em: targetEm, models: referenceEntities, token: server.token });
 *   return { rows: report.rows };
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export async function pullOnce(sourceEm: EntityManager, targetEm: EntityManager): Promise<{ rows: number }> {
  throw new Error(PULL_MISSING);
}
