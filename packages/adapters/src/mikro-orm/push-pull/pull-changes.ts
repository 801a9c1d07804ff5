import { decodeCheckpoint, encodeCheckpoint, OptionError, PushPullError, type PullPosition } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { arrayLiteral, ident, literal, SqlSession } from '../../internal/pg/sql-session.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import { RequestAccess } from './permissions.js';
import { ROW_VERSION_TABLE } from './row-versions.js';
import { recordSyncState } from './sync-state.js';
import { prunedBelow } from './tombstones.js';
import type { SyncAccess } from './access.js';
import { versionDocumentSql } from './documents.js';
import { servedModels, type ServedModel } from './served-models.js';
import { modelsDigest, ScanPlan, scanPage } from './table-scan.js';

/** Options of `pullChanges`. */
export interface PullChangesOptions {
  /** The checkpoint of the last answer (opaque); none (null) pulls everything from the start. */
  checkpoint?: string | null;
  /** The models to pull (entity names); default every served model. */
  models?: string[];
  /** The models the API serves (entity names); default every `@SyncModel`. */
  served?: string[];
  /** Changes per answer, at most (default 500). */
  limit?: number;
  /** The tenant whose rows the client syncs: required when a pulled model has `@SyncModel({ tenant })`; models without one are shared. */
  tenant?: string;
  /** The user and roles whose permissions and row filters apply (see `SyncAccess`); none: every served model and row is open. */
  access?: SyncAccess;
  /** Records the pull's checkpoint as this user's and client's sync state for the models it covered (`syncStates`). */
  record?: { user: string; client: string };
  signal?: AbortSignal;
}

/** The changes of one model in an answer: the rows as they are now, and the keys of the rows deleted. */
export interface ModelChanges {
  model: string;
  /** Created or updated rows, as documents keyed by property name (a foreign key as the id it holds). */
  upserted: Record<string, unknown>[];
  /** The ids of deleted rows (the key value, or the list of them for a composite key). */
  deleted: unknown[];
}

/** An answer of `pullChanges`. */
export interface PulledChanges {
  /** Where the client stands after this answer: send it with the next pull. */
  checkpoint: string;
  /** More changes are ready: pull again at once with the new checkpoint. */
  hasMore: boolean;
  changes: ModelChanges[];
}

const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 10_000;
interface VersionRow { model: string; key: string; deleted: boolean; xid: string; seq: string; doc: string | null }
/** The changes of one model in an answer: the documents as JSON texts of one or more documents each, comma-separated. */
interface ModelTexts { model: string; upserted: (string | Buffer)[]; count: number; deleted: unknown[] }
interface PulledTexts { checkpoint: string; hasMore: boolean; changes: ModelTexts[] }

/** Where a first pull's reading of the tables stands: at `models[index]`, after `key` (none: at its first row). */
interface ScanAt { index: number; key?: string[] }

/** The token of a scan position: the models it goes through (digest), the model it is at, the last key it sent. */
const scanToken = (models: ServedModel[], at: ScanAt): string =>
  Buffer.from(JSON.stringify([modelsDigest(models), models[at.index]!.name, at.key ?? null])).toString('base64url');

/** The scan position of a token; a token of another list of models starts the scan again (at the same horizon: rows come twice, none is missed). */
function scanAt(token: string, models: ServedModel[], checkpoint: string): ScanAt {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw PushPullError.checkpointInvalid(checkpoint);
  }
  if (!Array.isArray(decoded) || decoded.length !== 3 || typeof decoded[0] !== 'string' || typeof decoded[1] !== 'string' ||
    !(decoded[2] === null || (Array.isArray(decoded[2]) && decoded[2].every((value) => typeof value === 'string')))) throw PushPullError.checkpointInvalid(checkpoint);
  const [digest, model, key] = decoded as [string, string, string[] | null];
  if (digest !== modelsDigest(models)) return { index: 0 };
  const index = models.findIndex((candidate) => candidate.name === model);
  if (index === -1 || (key && key.length !== models[index]!.key.length)) throw PushPullError.checkpointInvalid(checkpoint);
  return { index, ...(key ? { key } : {}) };
}

/** A deleted row's id: its key value, or the list of them for a composite key. */
const id = (key: string): unknown => {
  const values = JSON.parse(key) as unknown[];
  return values.length === 1 ? values[0] : values;
};

/** Throws `PUSH_PULL_NOT_INSTALLED` for served models whose table has no capture trigger. */
async function checkInstalled(session: SqlSession, models: ServedModel[]): Promise<void> {
  const rows = await session.query<{ name: string }>(
    `SELECT t.name FROM unnest(?::text[], ?::text[]) AS t(name, qualified) WHERE NOT EXISTS ` +
    "(SELECT 1 FROM pg_trigger g WHERE g.tgrelid = t.qualified::regclass AND g.tgname = 'entity_sync_version')",
    [arrayLiteral(models.map((model) => model.name)), arrayLiteral(models.map((model) => model.table.qualified))]);
  if (rows.length) throw PushPullError.notInstalled(rows.map((row) => row.name));
}

/**
 * The changes since `checkpoint`, in the order they were made, at most `limit`: per model the rows
 * created or updated (as they are now) and the ids of those deleted, with the checkpoint to send
 * next and whether more are ready. Read in one snapshot, and only the changes of transactions
 * older than every transaction still running (`pg_snapshot_xmin`): a transaction that commits
 * late (a long one, or one that started before a faster one) can never land behind a checkpoint
 * already handed out, so a client pulling in a loop misses no row and gets none twice for one
 * change. A row changed several times comes once, as it is now. Needs `installPushPull`.
 *
 * @example
 * ```ts
 * let checkpoint: string | null = null;
 * for (let more = true; more;) ({ checkpoint, hasMore: more } = await pullChanges(orm.em.fork(), { checkpoint, limit: 200 }));
 * ```
 */
export async function pullChanges(em: EntityManager, options: PullChangesOptions = {}): Promise<PulledChanges> {
  checkEntityManager('pullChanges', em, 'pullChanges(orm.em.fork(), { checkpoint })');
  const { checkpoint, hasMore, changes } = await pullDocumentTexts(em, options);
  return { checkpoint, hasMore, changes: changes.map(({ model, upserted, deleted }) => ({ model, upserted: upserted.flatMap((docs) => JSON.parse(`[${docs.toString()}]`) as Record<string, unknown>[]), deleted })) };
}

/**
 * `pullChanges`'s answer as JSON (UTF-8), the documents as they were written, never parsed nor
 * written again: what `POST /pull` sends (`JSON.parse` of it is `pullChanges`'s answer).
 *
 * @example
 * ```ts
 * new Response(await pullChangesJson(orm.em.fork(), { checkpoint }), { headers: { 'content-type': 'application/json' } });
 * ```
 */
export async function pullChangesJson(em: EntityManager, options: PullChangesOptions = {}): Promise<Buffer> {
  checkEntityManager('pullChanges', em, 'pullChanges(orm.em.fork(), { checkpoint })');
  const { checkpoint, hasMore, changes } = await pullDocumentTexts(em, options);
  const parts: (string | Buffer)[] = [`{"checkpoint":${JSON.stringify(checkpoint)},"hasMore":${hasMore},"changes":[`];
  changes.forEach(({ model, upserted, deleted }, i) => {
    parts.push(`${i ? ',' : ''}{"model":${JSON.stringify(model)},"upserted":[`);
    upserted.forEach((docs, j) => parts.push(...(j ? [','] : []), docs));
    parts.push(`],"deleted":${JSON.stringify(deleted)}}`);
  });
  parts.push(']}');
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
}

/** `pullChanges`'s answer with the upserted documents as JSON texts. */
async function pullDocumentTexts(em: EntityManager, options: PullChangesOptions): Promise<PulledTexts> {
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw OptionError.invalidArgument('pullChanges', 'limit', limit, `a whole number from 1 to ${MAX_LIMIT}`);
  let after = decodeCheckpoint(options.checkpoint);
  return inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx, options.signal);
    // the first statement takes the snapshot: its horizon is the oldest transaction still running
    const [{ horizon }] = await session.query<{ horizon: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS horizon') as [{ horizon: string }];
    const sync = EntitySync.forEntityManager(tx);
    const schema = defaultSchemaOf(tx);
    await session.useCanonicalText(schema);
    const tables = await TableGraph.load(session, sync.graph, schema, (entity) => sync.registryEntry(entity));
    // a client behind a forgotten delete cannot be brought up to date: it starts again from scratch
    const pruned = after && await prunedBelow(session, schema);
    if (after && pruned && BigInt(after.xid) < BigInt(pruned)) throw PushPullError.resyncRequired(options.checkpoint!);
    let models = servedModels(sync, tables, options.models, options.served);
    await checkInstalled(session, models);
    // a user's roles decide which models and rows: read now, in this snapshot, so that a revocation holds from the next request on
    const access = options.access && await RequestAccess.load(session, schema, options.access, options.tenant);
    let denied: ServedModel[] = [];
    if (access) ({ allowed: models, denied } = access.pullable(models, !!options.models));
    // a client whose scope changed (models, tenant, permissions, filters) starts over: rows it may no longer see come as
    // deleted (the rows of served models it may no longer pull too, by id), rows it now may see come. A checkpoint without
    // a scope (a client protocol that holds a number) goes on.
    const scope = access?.fingerprint(models.map((model) => model.name));
    const restart = !!after?.restart || (after?.scope !== undefined && after.scope !== scope);
    if (after?.scope !== undefined && after.scope !== scope) after = undefined;
    const gone = restart ? denied : [];
    const tenanted = [...models, ...gone].filter((model) => model.tenant);
    if (tenanted.length && options.tenant === undefined) throw PushPullError.tenantRequired(tenanted.map((model) => model.name));
    const pulled = [...models, ...gone];
    const byModel = new Map<string, ModelTexts>(pulled.map((model) => [model.name, { model: model.name, upserted: [], count: 0, deleted: [] }]));
    const condition = (model: ServedModel) => (gone.includes(model) ? 'false' : access?.condition(model, access.rules(model.name, 'pull'), (column) => `t.${ident(column.name)}`));
    // the versions of the pulled models since `since` (none: from the first), up to the horizon
    const versionsSql = (since: boolean) => `FROM ${ident(schema)}.${ROW_VERSION_TABLE} v ` +
      "WHERE ((v.model = ANY(?::text[]) AND v.tenant = '') OR (v.model = ANY(?::text[]) AND v.tenant = ?)) " +
      `AND v.xid < ?::xid8${since ? ' AND (v.xid, v.seq) > (?::xid8, ?::bigint)' : ''}`;
    const versionParams = (since?: { xid: string; seq?: string }) => [arrayLiteral(pulled.filter((model) => !model.tenant).map((model) => model.name)),
      arrayLiteral(tenanted.map((model) => model.name)), options.tenant ?? '', horizon, ...(since ? [since.xid, since.seq ?? '-1'] : [])];
    let take = limit;
    // a first pull reads the tables themselves, model after model in key order, each page in a snapshot no older than the
    // first page's: every change of the transactions before the first page's horizon is in the rows read, and every later
    // change has a later transaction id, so the versions from that horizon on bring the rest (some rows twice, none missed)
    const scan = after?.scan !== undefined ? scanAt(after.scan, models, options.checkpoint!) : !after && !restart ? { index: 0 } : undefined;
    if (scan) {
      const from = after?.xid ?? horizon;
      for (let index = scan.index; index < models.length; index++) {
        const model = models[index]!;
        const page = await scanPage(session, new ScanPlan(model), options.tenant, condition(model) ?? 'true', index === scan.index ? scan.key : undefined, take);
        if (page.count) {
          const changes = byModel.get(model.name)!;
          changes.upserted.push(page.docs);
          changes.count += page.count;
        }
        take -= page.count;
        // the page is full: it stops after its last row, or where the next model starts
        if (page.more) return finish({ xid: from, scan: scanToken(models, { index, key: page.lastKey! }), ...(scope ? { scope } : {}) }, true);
        if (!take && index + 1 < models.length) return finish({ xid: from, scan: scanToken(models, { index: index + 1 }), ...(scope ? { scope } : {}) }, true);
      }
      // the changes made since the reading began come with the next answer (this one holds rows read in its snapshot:
      // a change among them would come twice in it); with none, the client stands at this snapshot's horizon
      if (from === horizon || !(await session.query(`SELECT 1 ${versionsSql(true)} LIMIT 1`, versionParams({ xid: from }))).length) return finish({ xid: horizon, ...(scope ? { scope } : {}) }, false);
      return finish({ xid: from, ...(scope ? { scope } : {}) }, true);
    }
    // a tenant's models hold the rows filed under it; the others, those every tenant shares. Each version comes with the
    // document of its row (none: deleted, or out of the client's sight), read by key in the same statement
    const documents = pulled.map((model) => versionDocumentSql(model, 'v', options.tenant, condition(model)));
    const versions = await session.query<VersionRow>(
      // ordered by the columns (v.): the bare names would be the text aliases, and '98' sorts after '129'
      'SELECT v.model, v.key::text AS key, v.deleted, v.xid::text AS xid, v.seq::text AS seq, ' +
      `${pulled.length ? `CASE ${pulled.map((model, i) => `WHEN NOT v.deleted AND v.model = ${literal(model.name)} THEN ${documents[i]} `).join('')}END` : 'NULL::text'} AS doc FROM (` +
      `SELECT v.model, v.key, v.deleted, v.xid, v.seq ${versionsSql(!!after)} ORDER BY v.xid, v.seq LIMIT ${limit + 1}) v ORDER BY v.xid, v.seq`,
      versionParams(after));
    const hasMore = versions.length > limit;
    const page = versions.slice(0, limit);
    const last = page.at(-1);
    for (const version of page) {
      const changes = byModel.get(version.model)!;
      if (version.doc !== null) {
        changes.upserted.push(version.doc);
        changes.count++;
      } else changes.deleted.push(id(version.key));
    }
    // a pull that caught up stands at its horizon: every change before it is the client's, whatever it was
    return finish({ ...(hasMore ? { xid: last!.xid, seq: last!.seq } : { xid: horizon }), ...(scope ? { scope } : {}), ...(restart && hasMore ? { restart } : {}) }, hasMore);

    async function finish(position: PullPosition, more: boolean): Promise<PulledTexts> {
      const checkpoint = encodeCheckpoint(position);
      if (options.record) await recordSyncState(tx, { ...options.record, models: models.map((model) => model.name), checkpoint });
      return { checkpoint, hasMore: more, changes: [...byModel.values()].filter((change) => change.count || change.deleted.length) };
    }
  }, 'repeatable read');
}
