import type { MikroORM } from '@mikro-orm/core';
import { z } from 'zod';
import type { HttpRoutes } from '../../http/index.js';
import { pullChanges } from './pull-changes.js';

/** The right a principal needs to pull changes from the push/pull sync API. */
export const PUSH_PULL_PULL_RIGHT = 'push-pull:pull';

/** Options of `pushPullRoutes`. */
export interface PushPullRoutesOptions {
  /** The models the API serves (entity names); default every `@SyncModel`. */
  models?: string[];
  /** The right `POST /pull` needs (default `push-pull:pull`). */
  pullRight?: string;
}

const pullBody = z.object({
  checkpoint: z.string().max(64).nullable().optional(),
  models: z.array(z.string().regex(/^[A-Za-z_$][\w$]*$/, 'an entity name')).min(1).optional(),
  limit: z.number().int().min(1).max(10_000).optional(),
});

/**
 * The push/pull sync API as routes of the HTTP layer. `POST <prefix>/pull` with
 * `{ checkpoint, models?, limit? }` answers `pullChanges`'s `{ checkpoint, hasMore, changes }`:
 * a malformed body is 400 naming the field, a checkpoint the server did not hand out 400
 * `PULL_CHECKPOINT_INVALID`, a model the API does not serve 403 `PUSH_PULL_MODEL_NOT_SERVED`.
 *
 * @example
 * ```ts
 * const handler = createHttpHandler({ prefix: '/sync', auth: jwtAuth({ ... }), routes: pushPullRoutes(orm, { models: ['Todo'] }) });
 * ```
 */
export function pushPullRoutes(orm: MikroORM, options: PushPullRoutesOptions = {}): HttpRoutes {
  const right = options.pullRight ?? PUSH_PULL_PULL_RIGHT;
  return (route) => {
    route.post('/pull', { right, body: pullBody }, async ({ body, signal }) =>
      Response.json(await pullChanges(orm.em.fork(), { checkpoint: body.checkpoint, models: body.models, limit: body.limit, served: options.models, signal })));
  };
}
