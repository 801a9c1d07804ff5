import { EnvSyncError, type FileStorage, type PullReport } from '@entity-sync/core';
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import { Readable } from 'node:stream';
import { z } from 'zod';
import { bytes, httpGetBytes, httpGetLineBatches, ndjsonBatches, type HttpRoutes } from '../../http/index.js';
import { checkEntityManager } from '../extension/arguments.js';
import { exportReferenceBatches } from './export-reference-data.js';
import { pullReferenceLines } from './pull-reference-data.js';
import type { PullReferenceDataOptions } from './sync-options.js';

/** The right a principal needs to pull from an environment-sync source. */
export const ENV_SYNC_RIGHT = 'env-sync:pull';

/** Options of `envSyncRoutes`. */
export interface EnvSyncRoutesOptions {
  /** Where the file fields' files are read from; required when a served model has `fileFields`. */
  storage?: FileStorage;
  /** The models a client may pull (entity names); default every `@SyncModel`. */
  models?: string[];
  /** The right the routes need (default `env-sync:pull`). */
  right?: string;
}

// `?have=Country:250:<md5>,Language:...`: the digests of what the client holds
const DIGEST = /^([A-Za-z_$][\w$]*):(\d+:[0-9a-f]{32})$/;
const haveQuery = z.string().optional()
  .refine((value) => value === undefined || value.split(',').every((item) => DIGEST.test(item)), 'entity names with their digests, <name>:<rows>:<md5> separated by commas')
  .transform((value) => value === undefined ? undefined : Object.fromEntries(value.split(',').map((item) => DIGEST.exec(item)!.slice(1, 3) as [string, string])));
// `?models=Country&models=Language` or `?models=Country,Language`
const modelsQuery = z.object({
  models: z.union([z.string(), z.array(z.string())]).optional()
    .transform((value) => value === undefined ? undefined : (Array.isArray(value) ? value : [value]).flatMap((item) => item.split(',')).filter(Boolean))
    .refine((names) => names === undefined || names.every((name) => /^[A-Za-z_$][\w$]*$/.test(name)), 'entity names separated by commas'),
  have: haveQuery,
});
const fileParams = z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 in lowercase hex') });

/**
 * Reads the first item before the response is answered, so that what fails before it (a model
 * that is not a `@SyncModel`, a database that cannot be reached) answers with its typed error's
 * status instead of a 200 broken off; the rest streams as it comes. The producer is stopped
 * when `signal` aborts, even before its consumer started reading.
 */
async function headerFirst<T>(items: AsyncIterable<T>, signal?: AbortSignal): Promise<AsyncIterable<T>> {
  const iterator = items[Symbol.asyncIterator]();
  let first: IteratorResult<T> | undefined = await iterator.next();
  const stop = async (): Promise<IteratorResult<T>> => (await iterator.return?.()) ?? { done: true, value: undefined };
  signal?.addEventListener('abort', () => void stop().catch(() => undefined), { once: true });
  const rest: AsyncIterator<T> = {
    next: async () => {
      const taken = first;
      first = undefined;
      return taken ?? iterator.next();
    },
    return: stop,
  };
  return { [Symbol.asyncIterator]: () => rest };
}

/**
 * The source side of environment sync, as routes of the HTTP layer: `GET <prefix>/export`
 * streams the reference data (NDJSON, see `exportReferenceData`) of every model or of
 * `?models=A,B`, each request in its own snapshot on a fork of `orm.em` (with `?have=<model>:<digest>,...`,
 * a model whose rows the client already holds is sent without rows, see `exportReferenceData`'s `have`); `GET <prefix>/files/<sha256>`
 * streams a file field's content. Both need the `env-sync:pull` right.
 *
 * @example
 * ```ts
 * const handler = createHttpHandler({ prefix: '/sync', auth: jwtAuth({ ... }), routes: envSyncRoutes(orm, { storage }) });
 * http.createServer(toNodeListener(handler)).listen(8080);
 * ```
 */
export function envSyncRoutes(orm: MikroORM, options: EnvSyncRoutesOptions = {}): HttpRoutes {
  const right = options.right ?? ENV_SYNC_RIGHT;
  const served = options.models;
  return (route) => {
    route.get('/export', { right, query: modelsQuery }, async ({ query, signal }) => {
      const asked = query.models;
      const outside = asked?.filter((name) => served && !served.includes(name)) ?? [];
      if (outside.length) throw EnvSyncError.modelNotServed(outside, served!);
      return ndjsonBatches(await headerFirst(exportReferenceBatches(orm.em.fork(), { models: asked ?? served, have: query.have, storage: options.storage, signal }), signal));
    });
    route.get('/files/:hash', { right, params: fileParams }, async ({ params }) => {
      const ref = await options.storage?.has(params.hash);
      if (!ref) throw EnvSyncError.fileNotServed(params.hash);
      return bytes(await options.storage!.read(ref), { contentType: 'application/octet-stream' });
    });
  };
}

/** Options of `pullFrom`: those of `pullReferenceData` (but `fetchFile`), and how to reach the source. */
export interface PullFromOptions extends Omit<PullReferenceDataOptions, 'fetchFile'> {
  /** The models to pull (entity names); default every model the source serves. */
  models?: string[];
  /** A static token or a JWT, sent as `Authorization: Bearer`. */
  token?: string;
}

/**
 * Pulls reference data from another installation's environment-sync endpoint (`url`: the
 * prefix `envSyncRoutes` is mounted under) into the database of `em`, by natural key, in one
 * transaction: see `pullReferenceData`. Files are downloaded only when the target storage
 * lacks their content, and a model's rows only when the target's digest of them differs from the source's. A source that fails or goes away mid-stream leaves the target as it was.
 *
 * @example
 * ```ts
 * const report = await pullFrom(orm.em.fork(), 'https://staging.example.com/sync', { token, dryRun: true });
 * ```
 */
export async function pullFrom(em: EntityManager, url: string, options: PullFromOptions = {}): Promise<PullReport> {
  checkEntityManager('pullFrom', em, "pullFrom(em, 'https://source.example.com/sync', { token })");
  const base = url.replace(/\/+$/, '');
  const { token, models, signal, ...pull } = options;
  const lines = (have: Record<string, string>) => {
    const held = Object.entries(have).map(([model, digest]) => `${model}:${digest}`).join(',');
    return httpGetLineBatches(`${base}/export`, { token, signal, query: { models: models?.join(','), have: held || undefined } });
  };
  const fetchFile = async (hash: string) => Readable.from(await headerFirst(httpGetBytes(`${base}/files/${hash}`, { token, signal })));
  return pullReferenceLines(em, lines, { ...pull, signal, fetchFile }, models ?? null);
}
