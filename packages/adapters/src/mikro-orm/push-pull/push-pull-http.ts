import type { MikroORM } from '@mikro-orm/core';
import { z } from 'zod';
import { OperationError, PushPullError } from '@entity-sync/core';
import type { HttpRoutes, Principal } from '../../http/index.js';
import type { SyncAccess } from './access.js';
import { modelChecksums } from './checksums.js';
import { pullChangesJson, pullChangesStream } from './pull-changes.js';
import { bytes } from '../../http/streaming.js';
import { pushChanges, type PushConflictPolicy } from './push-changes.js';
import { syncObserver, type SyncFacts, type SyncObserveOptions } from './sync-log/sync-observer.js';

/** The right a principal needs to pull changes from the push/pull sync API. */
export const PUSH_PULL_PULL_RIGHT = 'push-pull:pull';

/** The right a principal needs to push changes to the push/pull sync API. */
export const PUSH_PULL_PUSH_RIGHT = 'push-pull:push';

/** Options of `pushPullRoutes`. */
export interface PushPullRoutesOptions extends SyncObserveOptions {
  /** The models the API serves (entity names); default every `@SyncModel`. */
  models?: string[];
  /** The right `POST /pull` needs (default `push-pull:pull`). */
  pullRight?: string;
  /** The right `POST /push` needs (default `push-pull:push`). */
  pushRight?: string;
  /** Per model, how push conflicts are resolved (default `server-wins`). */
  conflicts?: Record<string, PushConflictPolicy>;
  /**
   * Users' tokens get the permissions and row filters of their roles (`sync_roles`), kept by
   * `grantPermissions`: a model no role of theirs may pull or push is 403 `PUSH_PULL_FORBIDDEN`,
   * rows outside their filters are neither pulled nor changed. Off: a token's rights alone decide.
   */
  permissions?: boolean;
}

const NDJSON = 'application/x-ndjson; charset=utf-8';

/** The request's Accept names NDJSON (`application/x-ndjson`, or its other name `application/jsonl`) before JSON, or alone. */
function acceptsNdjson(request: Request): boolean {
  const types = (request.headers.get('accept') ?? '').split(',').map((part) => part.split(';')[0]!.trim().toLowerCase());
  const ndjson = types.findIndex((type) => type === 'application/x-ndjson' || type === 'application/jsonl');
  const json = types.indexOf('application/json');
  return ndjson !== -1 && (json === -1 || ndjson < json);
}

const tenantField = z.string().min(1).max(200).optional();
const pullBody = z.object({
  tenant: tenantField,
  clientId: z.string().min(1).max(200).optional(),
  checkpoint: z.string().max(8100).nullable().optional(),
  models: z.array(z.string().regex(/^[A-Za-z_$][\w$]*$/, 'an entity name')).min(1).optional(),
  limit: z.number().int().min(1).max(10_000).optional(),
  documents: z.enum(['objects', 'arrays']).optional(),
});

const checksumBody = z.object({ tenant: tenantField, models: z.array(z.string().regex(/^[A-Za-z_$][\w$]*$/, 'an entity name')).min(1).optional() });

const entityName = z.string().regex(/^[A-Za-z_$][\w$]*$/, 'an entity name');
const pushBody = z.object({
  tenant: tenantField,
  clientId: z.string().min(1).max(200),
  mutationId: z.string().min(1).max(200),
  checkpoint: z.string().max(8100).nullable().optional(),
  changes: z.array(z.object({
    model: entityName,
    // a composite key's id is the list of its values
    id: z.union([z.string().min(1), z.number(), z.array(z.union([z.string(), z.number()])).min(2).max(32)]),
    deleted: z.boolean().optional(),
    doc: z.record(z.string(), z.unknown()).optional(),
    assumed: z.record(z.string(), z.unknown()).nullable().optional(),
  })).max(1000),
});

/**
 * The tenant a request syncs: the one it names, which must be among the token's `tenants` claim
 * (`PUSH_PULL_TENANT_FORBIDDEN` otherwise), or the token's only tenant. A static token carries no
 * tenants: as the credentials of a service, it may name any.
 */
function tenantFor(principal: Principal | null, asked: string | undefined): string | undefined {
  const claimed = principal?.claims.tenants;
  const tenants = Array.isArray(claimed) ? claimed.filter((item): item is string => typeof item === 'string') : undefined;
  if (asked === undefined) return tenants?.length === 1 ? tenants[0] : undefined;
  if ((tenants && !tenants.includes(asked)) || (!tenants && principal?.via === 'jwt')) throw PushPullError.tenantForbidden(asked, principal?.subject ?? 'anonymous');
  return asked;
}

/**
 * Who a request of the push/pull API syncs as: its tenant (`tenantFor`) and, with `permissions`,
 * for a user's JWT, the user and their roles (`sync_roles`), whose permissions and row filters
 * (`grantPermissions`) govern what it may pull and push. A static token is a service's
 * credentials: no roles apply to it.
 */
export function syncScope(principal: Principal | null, askedTenant: string | undefined, options: { permissions?: boolean } = {}): { tenant?: string; access?: SyncAccess } {
  const tenant = tenantFor(principal, askedTenant);
  if (!options.permissions || principal?.via !== 'jwt') return { tenant };
  const claimed = principal.claims.sync_roles;
  const roles = Array.isArray(claimed) ? claimed.filter((item): item is string => typeof item === 'string') : [];
  return { tenant, access: { user: principal.subject, roles } };
}

/**
 * The push/pull sync API as routes of the HTTP layer. `POST <prefix>/pull` with
 * `{ checkpoint, models?, limit?, documents? }` answers `pullChanges`'s `{ checkpoint, hasMore, changes }`
 * (`documents: 'arrays'`: the rows as arrays of values, see `PullWireOptions`); with
 * `accept: application/x-ndjson`, every answer up to the end in one streamed response, a line
 * each (`pullChangesStream`), the last with `hasMore: false`. A bad request is answered before
 * any line, with its error;
 * a malformed body is 400 naming the field, a checkpoint the server did not hand out 400
 * `PULL_CHECKPOINT_INVALID`, a model the API does not serve 403 `PUSH_PULL_MODEL_NOT_SERVED`.
 * `POST <prefix>/checksum` with `{ models?, tenant? }` answers `modelChecksums`: per model the
 * count and checksum of the rows the caller may pull, to compare with `documentsChecksum` of a copy.
 * `POST <prefix>/push` with `{ clientId, mutationId, checkpoint, changes }` answers `pushChanges`'s
 * `{ replayed, results }`; a malformed change is 400 `PUSH_CHANGE_INVALID`, a write the database
 * refuses 422 `PUSH_REJECTED`, nothing written. Both take `tenant`: the tenant whose rows are synced
 * (see `tenantFor`; a model with `@SyncModel({ tenant })` needs one, 400 `PUSH_PULL_TENANT_REQUIRED`).
 *
 * @example
 * ```ts
 * const handler = createHttpHandler({ prefix: '/sync', auth: jwtAuth({ ... }), routes: pushPullRoutes(orm, { models: ['Todo'] }) });
 * ```
 */
export function pushPullRoutes(orm: MikroORM, options: PushPullRoutesOptions = {}): HttpRoutes {
  return (route) => {
    route.post('/pull', { right: options.pullRight ?? PUSH_PULL_PULL_RIGHT, body: pullBody, observe: syncObserver(orm, 'pull', options) },
      async ({ body, principal, signal, request, report }) => {
        const scope = syncScope(principal, body.tenant, options);
        const models: string[] = [];
        let rows = 0;
        report({ tenant: scope.tenant, client: body.clientId ?? 'default', models, rowsOut: rows } satisfies SyncFacts);
        const pull = {
          checkpoint: body.checkpoint, models: body.models, limit: body.limit, documents: body.documents, ...scope, served: options.models, signal,
          ...(principal ? { record: { user: principal.subject, client: body.clientId ?? 'default' } } : {}),
          onAnswer: (answer: { models: string[]; rows: number }) => {
            models.push(...answer.models);
            report({ rowsOut: rows += answer.rows } satisfies SyncFacts);
          },
        };
        // a client that takes NDJSON gets every answer up to the end in one response, a line each
        if (acceptsNdjson(request)) {
          // chunks as they come (an answer's documents are one): gathered into larger ones, they would be copied again
          const stream = await pullChangesStream(orm.em.fork(), pull);
          let ended!: () => void;
          let failed!: (error: unknown) => void;
          report({ finished: new Promise<void>((resolve, reject) => ((ended = resolve), (failed = reject))) });
          const lines = ReadableStream.from(watched(stream, ended, failed)) as ReadableStream<Uint8Array>;
          return bytes(lines, { contentType: NDJSON, headers: { 'cache-control': 'no-store' } });
        }
        // the documents go out as PostgreSQL wrote their JSON: parsing and writing them again would only cost
        return new Response(await pullChangesJson(orm.em.fork(), pull), { headers: { 'content-type': 'application/json' } });
      });
    route.post('/checksum', { right: options.pullRight ?? PUSH_PULL_PULL_RIGHT, body: checksumBody, observe: syncObserver(orm, 'checksum', options) },
      async ({ body, principal, signal }) =>
        Response.json(await modelChecksums(orm.em.fork(), { models: body.models, ...syncScope(principal, body.tenant, options), served: options.models, signal })));
    route.post('/push', { right: options.pushRight ?? PUSH_PULL_PUSH_RIGHT, body: pushBody, observe: syncObserver(orm, 'push', options) },
      async ({ body, principal, signal, report }) => {
        const scope = syncScope(principal, body.tenant, options);
        report({ tenant: scope.tenant, models: body.changes.map((change) => change.model), rowsIn: body.changes.length } satisfies SyncFacts);
        const pushed = await pushChanges(orm.em.fork(), { ...body, ...scope, ...(principal ? { record: { user: principal.subject } } : {}), served: options.models, conflicts: options.conflicts, signal });
        const conflicts = pushed.results.filter((result) => result.status === 'conflict').length;
        report({ conflicts, refused: pushed.results.filter((result) => result.status === 'refused').length, rowsOut: conflicts } satisfies SyncFacts);
        return Response.json(pushed);
      });
  };
}

/** The chunks of `stream`, telling `ended` when they ran out and `failed` when reading them failed or the reader left early. */
async function* watched(stream: AsyncIterable<Uint8Array>, ended: () => void, failed: (error: unknown) => void): AsyncGenerator<Uint8Array> {
  let done = false;
  try {
    yield* stream;
    done = true;
  } catch (error) {
    failed(error);
    throw error;
  } finally {
    if (done) ended();
    else failed(OperationError.aborted('the client left before the end of the stream'));
  }
}
