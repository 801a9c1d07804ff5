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
import { versionDocumentSql, type DocumentForm } from './documents.js';
import { servedModels, type ServedModel } from './served-models.js';
import { modelsDigest, ScanPlan, scanPage, scanRows } from './table-scan.js';
import { chunksFromTransaction } from '../../internal/pg/transaction-lines.js';

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

/**
 * Options of the pulls that answer JSON text (`pullChangesJson`, `pullChangesStream`, `POST /pull`):
 * `pullChanges`'s, and the form of the rows.
 */
export interface PullWireOptions extends PullChangesOptions {
  /**
   * How the rows are written: `objects` keyed by property name (the default), or `arrays` of the
   * values in the order of the `fields` each model's changes then carry: about two thirds of the
   * bytes and half the client's JSON.parse, for bulk loads.
   */
  documents?: DocumentForm;
  /** Told of each answer as it is ready, with the models in it and its rows (upserted and deleted): what the sync log counts. */
  onAnswer?: (answer: { models: string[]; rows: number }) => void;
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
interface ModelTexts { model: string; fields?: string[]; upserted: (string | Buffer)[]; count: number; deleted: unknown[] }
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
  const { checkpoint, hasMore, changes } = await pullDocumentTexts(em, { ...options, documents: 'objects' });
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
export async function pullChangesJson(em: EntityManager, options: PullWireOptions = {}): Promise<Buffer> {
  checkEntityManager('pullChanges', em, 'pullChanges(orm.em.fork(), { checkpoint })');
  const answer = await pullDocumentTexts(em, options);
  options.onAnswer?.(answerSize(answer));
  return answerJson(answer);
}

/** The models and rows of an answer. */
const answerSize = (answer: PulledTexts) => ({
  models: answer.changes.map((change) => change.model), rows: answer.changes.reduce((sum, change) => sum + change.count + change.deleted.length, 0),
});

/**
 * `pullChanges` as a stream: the answers successive pulls would give, one after the other, as
 * NDJSON (one answer a line, UTF-8), read in one snapshot until the client has caught up: the
 * last line has `hasMore: false` and the checkpoint to pull from next. `limit` is the changes of
 * a line at most. A first pull reads the tables by one COPY after another, its documents going
 * out while PostgreSQL reads on; every line's checkpoint is one to resume from, should the stream
 * break off. What `POST /pull` sends to a client that accepts `application/x-ndjson`. It resolves
 * once the first line is ready (a bad request rejects it); read the lines to the end or leave the
 * loop: the transaction holds a connection until then.
 *
 * @example
 * ```ts
 * for await (const chunk of await pullChangesStream(orm.em.fork(), { checkpoint: null })) process.stdout.write(chunk);
 * ```
 */
export async function pullChangesStream(em: EntityManager, options: PullWireOptions = {}): Promise<AsyncIterable<Uint8Array>> {
  checkEntityManager('pullChangesStream', em, 'await pullChangesStream(orm.em.fork(), { checkpoint })');
  const limit = checkedLimit(options);
  // an answer goes out in its parts: the documents as they were written, never copied into one buffer
  const chunks = chunksFromTransaction<Buffer>(em, 'repeatable read', async (tx, emit) => {
    const lines = async (answer: PulledTexts) => {
      options.onAnswer?.(answerSize(answer));
      for (const part of answerParts(answer, '\n')) await emit(part);
    };
    await lines(await pullIn(tx, options, limit, lines));
  }, STREAM_HIGH_WATER, (chunk) => chunk.length)[Symbol.asyncIterator]();
  // what the request itself gets wrong (a checkpoint, a model, a tenant) throws here, before any line is sent
  const first = await chunks.next();
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (let next = first; !next.done; next = await chunks.next()) yield next.value;
      } finally {
        await chunks.return?.();
      }
    },
  };
}

// the bytes of answers a stream holds ahead of a client that reads slower than they are written
const STREAM_HIGH_WATER = 4 << 20;
// rows of a model a streamed first pull reads by one COPY
const STREAM_SCAN_ROWS = 50_000;

/** An answer as JSON in parts, the documents as they were written, never parsed nor written again, and `end` after it. */
function answerParts(answer: PulledTexts, end = ''): Buffer[] {
  const parts: (string | Buffer)[] = [];
  let text = `{"checkpoint":${JSON.stringify(answer.checkpoint)},"hasMore":${answer.hasMore},"changes":[`;
  answer.changes.forEach(({ model, fields, upserted, deleted }, i) => {
    text += `${i ? ',' : ''}{"model":${JSON.stringify(model)},${fields ? `"fields":${JSON.stringify(fields)},` : ''}"upserted":[`;
    upserted.forEach((docs, j) => {
      if (j) text += ',';
      if (typeof docs === 'string') text += docs;
      else {
        parts.push(text, docs);
        text = '';
      }
    });
    text += `],"deleted":${JSON.stringify(deleted)}}`;
  });
  parts.push(`${text}]}${end}`);
  return parts.filter((part) => part.length).map((part) => (typeof part === 'string' ? Buffer.from(part) : part));
}

const answerJson = (answer: PulledTexts): Buffer => Buffer.concat(answerParts(answer));

function checkedLimit(options: PullChangesOptions): number {
  const limit = options.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw OptionError.invalidArgument('pullChanges', 'limit', limit, `a whole number from 1 to ${MAX_LIMIT}`);
  return limit;
}

/** `pullChanges`'s answer with the upserted documents as JSON texts. */
async function pullDocumentTexts(em: EntityManager, options: PullWireOptions): Promise<PulledTexts> {
  const limit = checkedLimit(options);
  return inTransaction(em, (tx) => pullIn(tx, options, limit), 'repeatable read');
}

/**
 * The answer of a pull in the transaction `tx` (repeatable read). With `stream`, the answers
 * before the last go to it one by one, in the same snapshot, until the client has caught up; the
 * last is returned.
 */
async function pullIn(tx: EntityManager, options: PullWireOptions, limit: number, stream?: (answer: PulledTexts) => Promise<void>): Promise<PulledTexts> {
  let after = decodeCheckpoint(options.checkpoint);
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
  const scoped = scope ? { scope } : {};
  const restart = !!after?.restart || (after?.scope !== undefined && after.scope !== scope);
  if (after?.scope !== undefined && after.scope !== scope) after = undefined;
  const gone = restart ? denied : [];
  const tenanted = [...models, ...gone].filter((model) => model.tenant);
  if (tenanted.length && options.tenant === undefined) throw PushPullError.tenantRequired(tenanted.map((model) => model.name));
  const pulled = [...models, ...gone];
  const form = options.documents ?? 'objects';
  // as arrays, each model's changes name the properties of the values
  const fieldsOf = (model: ServedModel) => (form === 'arrays' ? { fields: model.fields.map((field) => field.property) } : {});
  const condition = (model: ServedModel) => (gone.includes(model) ? 'false' : access?.condition(model, access.rules(model.name, 'pull'), (column) => `t.${ident(column.name)}`));
  // the versions of the pulled models since `since` (none: from the first), up to the horizon
  const versionsSql = (since: boolean) => `FROM ${ident(schema)}.${ROW_VERSION_TABLE} v ` +
    "WHERE ((v.model = ANY(?::text[]) AND v.tenant = '') OR (v.model = ANY(?::text[]) AND v.tenant = ?)) " +
    `AND v.xid < ?::xid8${since ? ' AND (v.xid, v.seq) > (?::xid8, ?::bigint)' : ''}`;
  const versionParams = (since?: { xid: string; seq?: string }) => [arrayLiteral(pulled.filter((model) => !model.tenant).map((model) => model.name)),
    arrayLiteral(tenanted.map((model) => model.name)), options.tenant ?? '', horizon, ...(since ? [since.xid, since.seq ?? '-1'] : [])];
  const answer = async (position: PullPosition, hasMore: boolean, changes: ModelTexts[]): Promise<PulledTexts> => {
    const checkpoint = encodeCheckpoint(position);
    // the last answer of a pull (a stream's last line) is where the client stands
    if (options.record && !(stream && hasMore)) await recordSyncState(tx, { ...options.record, models: models.map((model) => model.name), checkpoint });
    return { checkpoint, hasMore, changes: changes.filter((change) => change.count || change.deleted.length) };
  };
  // a first pull reads the tables themselves, model after model in key order, each page in a snapshot no older than the
  // first page's: every change of the transactions before the first page's horizon is in the rows read, and every later
  // change has a later transaction id, so the versions from that horizon on bring the rest (some rows twice, none missed)
  const scan = after?.scan !== undefined ? scanAt(after.scan, models, options.checkpoint!) : !after && !restart ? { index: 0 } : undefined;
  if (scan) {
    const from = after?.xid ?? horizon;
    const reading = (index: number, key: string[]) => ({ xid: from, scan: scanToken(models, { index, key }), ...scoped });
    const changes: ModelTexts[] = [];
    if (stream) {
      // each run of documents is an answer of its own, the COPY reading on while it goes out
      for (let index = scan.index; index < models.length; index++) {
        const model = models[index]!;
        const plan = new ScanPlan(model, form);
        for (let key = index === scan.index ? scan.key : undefined; ;) {
          const read = await scanRows(session, plan, options.tenant, condition(model) ?? 'true', key, STREAM_SCAN_ROWS,
            async (run) => stream(await answer(reading(index, run.lastKey), true, [{ model: model.name, ...fieldsOf(model), upserted: [run.docs], count: run.count, deleted: [] }])), limit);
          if (!read.more) break;
          key = read.lastKey;
        }
      }
    } else {
      let take = limit;
      for (let index = scan.index; index < models.length; index++) {
        const model = models[index]!;
        const page = await scanPage(session, new ScanPlan(model, form), options.tenant, condition(model) ?? 'true', index === scan.index ? scan.key : undefined, take);
        if (page.count) changes.push({ model: model.name, ...fieldsOf(model), upserted: [page.docs], count: page.count, deleted: [] });
        take -= page.count;
        // the page is full: it stops after its last row, or where the next model starts
        if (page.more) return answer(reading(index, page.lastKey!), true, changes);
        if (!take && index + 1 < models.length) return answer({ xid: from, scan: scanToken(models, { index: index + 1 }), ...scoped }, true, changes);
      }
    }
    // with no change since the reading began, the client stands at this snapshot's horizon
    if (from === horizon || !(await session.query(`SELECT 1 ${versionsSql(true)} LIMIT 1`, versionParams({ xid: from }))).length) return answer({ xid: horizon, ...scoped }, false, changes);
    // the changes made since then come with the next answer (this one holds rows read in its snapshot: a change among them would come twice in it)
    if (!stream) return answer({ xid: from, ...scoped }, true, changes);
    after = { xid: from };
  }
  // a tenant's models hold the rows filed under it; the others, those every tenant shares. Each version comes with the
  // document of its row (none: deleted, or out of the client's sight), read by key in the same statement
  const documents = pulled.map((model) => versionDocumentSql(model, 'v', options.tenant, condition(model), form));
  for (;;) {
    const versions = await session.query<VersionRow>(
      // ordered by the columns (v.): the bare names would be the text aliases, and '98' sorts after '129'
      'SELECT v.model, v.key::text AS key, v.deleted, v.xid::text AS xid, v.seq::text AS seq, ' +
      `${pulled.length ? `CASE ${pulled.map((model, i) => `WHEN NOT v.deleted AND v.model = ${literal(model.name)} THEN ${documents[i]} `).join('')}END` : 'NULL::text'} AS doc FROM (` +
      `SELECT v.model, v.key, v.deleted, v.xid, v.seq ${versionsSql(!!after)} ORDER BY v.xid, v.seq LIMIT ${limit + 1}) v ORDER BY v.xid, v.seq`,
      versionParams(after));
    const hasMore = versions.length > limit;
    const page = versions.slice(0, limit);
    const last = page.at(-1);
    const byModel = new Map<string, ModelTexts>(pulled.map((model) => [model.name, { model: model.name, ...fieldsOf(model), upserted: [], count: 0, deleted: [] }]));
    for (const version of page) {
      const changes = byModel.get(version.model)!;
      if (version.doc !== null) {
        changes.upserted.push(version.doc);
        changes.count++;
      } else changes.deleted.push(id(version.key));
    }
    // a pull that caught up stands at its horizon: every change before it is the client's, whatever it was
    const position = { ...(hasMore ? { xid: last!.xid, seq: last!.seq } : { xid: horizon }), ...scoped, ...(restart && hasMore ? { restart } : {}) };
    const answered = await answer(position, hasMore, [...byModel.values()]);
    if (!stream || !hasMore) return answered;
    await stream(answered);
    after = position;
  }
}
