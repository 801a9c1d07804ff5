import { decodeCheckpoint, EntitySyncError, PushPullError, type PullPosition } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { createByName, dateProperties, defaultSchemaOf, findByFilter, inTransaction, primaryKeyValuesOf } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { arrayLiteral, ident, SqlSession } from '../../internal/pg/sql-session.js';
import { advanceSequence } from '../../internal/pg/sequence-position.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import { AUDIT_ACTOR_SETTING } from './audit/audit-tables.js';
import { PUSH_CLIENT_SETTING, PUSH_LOG_TABLE, ROW_VERSION_TABLE } from './row-versions.js';
import type { SyncAccess } from './access.js';
import { RequestAccess } from './permissions.js';
import { recordSyncState } from './sync-state.js';
import { prunedBelow } from './tombstones.js';
import { keyText, readDocuments } from './documents.js';
import { keyJson, servedModels, tenantText, type ServedModel } from './served-models.js';

/** A row's id: its primary key value, or the list of them for a composite key (in the key's column order, as a pull sends deleted ids). */
export type PushRowId = string | number | (string | number)[];

/** One pushed change: a row as the client has it now (`doc`, by property name), or its delete. */
export interface PushChange {
  model: string;
  /** The row's id (its primary key value, or the list of them for a composite key). */
  id: PushRowId;
  deleted?: boolean;
  /** The row's properties (the id may be left out); required unless `deleted`. */
  doc?: Record<string, unknown>;
  /**
   * The row as the client last saw it on the server (null: it saw none), for clients that detect
   * conflicts by state rather than by checkpoint (RxDB's `assumedMasterState`). When given, the
   * change is a conflict when the server's row, as a pull would send it, differs from it; the
   * checkpoint is not consulted for this change.
   */
  assumed?: Record<string, unknown> | null;
}

/** A change that meets a row the server changed after the client's checkpoint (by another client or the app). */
export interface PushConflict {
  model: string;
  id: PushRowId;
  /** The server's row (null when the server deleted it). */
  server: Record<string, unknown> | null;
  /** The client's row (null for a delete). */
  client: Record<string, unknown> | null;
}

/**
 * How a model's conflicts are resolved: the server's row stays (`server-wins`, the default), the
 * client's is written (`client-wins`), or a function decides: `'server'`, `'client'`, or the row to write.
 */
export type PushConflictPolicy = 'server-wins' | 'client-wins' | ((conflict: PushConflict) => 'server' | 'client' | Record<string, unknown>);

/** Options of `pushChanges`. */
export interface PushChangesOptions {
  /** The client's stable id: with `mutationId`, what makes a push idempotent. */
  clientId: string;
  /** The id of this push, unique per client: a replay returns the first result and writes nothing. */
  mutationId: string;
  /** The checkpoint of the client's last pull: a row changed on the server after it is a conflict. None: every existing row is. */
  checkpoint?: string | null;
  changes: PushChange[];
  /** The models the API serves (entity names); default every `@SyncModel`. */
  served?: string[];
  /** Per model, how conflicts are resolved (default `server-wins`). */
  conflicts?: Record<string, PushConflictPolicy>;
  /**
   * A conflict that the policy resolves for the server fails the whole push (`PUSH_CONFLICT`, 409),
   * nothing written, instead of a result per row: for clients that pull and push again
   * (WatermelonDB's protocol).
   */
  abortOnConflict?: boolean;
  /** The tenant the client syncs: required when a pushed model has `@SyncModel({ tenant })`. Rows of other tenants are refused. */
  tenant?: string;
  /** The user and roles whose permissions and row filters apply (see `SyncAccess`); none: every served model and row is open. */
  access?: SyncAccess;
  /** Records that this user's client pushed, for the models it pushed (`syncStates`). */
  record?: { user: string };
  signal?: AbortSignal;
}

/** What happened to one pushed change. */
export interface PushRowResult {
  model: string;
  id: PushRowId;
  status: 'created' | 'updated' | 'deleted' | 'conflict' | 'refused';
  /** For a refused change: why (the row is another tenant's, or names one). */
  reason?: string;
  /** For a conflict: whose row is now on the server. */
  resolution?: 'server' | 'client' | 'merged';
  /** For a conflict: the server's row as it is now (null when it does not exist), for the client to take. */
  server?: Record<string, unknown> | null;
}

/** An answer of `pushChanges`. */
export interface PushResult {
  /** The push was done before (same client and mutation id): this is its first result, and nothing was written now. */
  replayed: boolean;
  results: PushRowResult[];
}

interface Version { xid: string; seq: string; origin: string | null }

/** A document's synced properties in one spelling (sorted, a missing property as null), to compare a client's assumed row with the server's. */
function sameRow(model: ServedModel, server: Record<string, unknown> | undefined, assumed: Record<string, unknown> | null): boolean {
  if (!server || !assumed) return !server && !assumed;
  const spelling = (doc: Record<string, unknown>) => JSON.stringify(model.fields.map((field) => doc[field.property] ?? null));
  return spelling(server) === spelling(assumed);
}

/**
 * A pushed document's values as the entity holds them: JSON has no dates, so a timestamp arrives as
 * text (ISO 8601, as a pull sends it) or a number of milliseconds, and becomes a Date;
 * `PUSH_CHANGE_INVALID` (change `index`) when it is not one.
 */
function entityValues(values: Record<string, unknown>, dates: Set<string>, index: number, model: string): Record<string, unknown> {
  for (const property of dates) {
    const value = values[property];
    if (typeof value !== 'string' && typeof value !== 'number') continue;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw PushPullError.changeInvalid(index, model, `${property} is ${JSON.stringify(value)}, not a date (ISO 8601 text or milliseconds)`);
    values[property] = date;
  }
  return values;
}

/** A change's id as the capture spells a key: the JSON list of the key's values. */
const keyOf = (model: ServedModel, id: PushRowId): string => JSON.stringify(model.key.length === 1 ? [id] : id);

/** The properties of the key's columns, in the key's order. */
const keyProperties = (model: ServedModel): string[] => model.key.map((column) => model.fields.find((field) => field.column === column)!.property);

/** A managed entity's key as `keyOf` spells it (a key through a relation as the id it holds). */
function entityKey(entity: object, properties: string[]): string {
  return JSON.stringify(properties.map((property) => {
    const value = (entity as Record<string, unknown>)[property];
    return value !== null && typeof value === 'object' && !(value instanceof Date) ? primaryKeyValuesOf(value)[0] : value;
  }));
}

/** Whether a row's last change is one the client had not pulled at `position`. */
const after = (version: Version, position: PullPosition | undefined) =>
  !position || BigInt(version.xid) > BigInt(position.xid) ||
  (version.xid === position.xid && (position.seq === undefined || BigInt(version.seq) > BigInt(position.seq)));

/** Why a change of a tenant's model is refused for `tenant`: the row is another tenant's (`owner`), or the change names another; undefined when it is not. */
function refusedForTenant(model: ServedModel, change: PushChange, owner: string | undefined, tenant: string): string | undefined {
  if (owner !== undefined && owner !== tenant) return 'the row belongs to another tenant';
  const named = change.doc?.[model.tenant!.property];
  if (!change.deleted && named !== undefined && named !== null && String(named) !== tenant) return 'the row names another tenant';
  return undefined;
}

/**
 * Why each change the user's roles do not allow is refused, by id: the kind of change (create,
 * update, delete) needs that permission, and the row must be among the rows the roles' filters
 * let through, both as it is (update, delete) and as the change leaves it (create, update).
 */
async function refusedByAccess(session: SqlSession, access: RequestAccess, model: ServedModel, changes: PushChange[],
  current: Map<string, Record<string, unknown>>, tenant: string | undefined): Promise<Map<string, string>> {
  const refused = new Map<string, string>();
  const owned = (doc: Record<string, unknown>) => (model.tenant && tenant !== undefined ? { ...doc, [model.tenant.property]: tenant } : doc);
  const checks: { id: string; op: 'create' | 'update' | 'delete'; docs: Record<string, unknown>[] }[] = [];
  for (const change of changes) {
    const id = keyOf(model, change.id);
    const existing = current.get(id);
    const op = change.deleted ? 'delete' : existing ? 'update' : 'create';
    const docs = [...(existing ? [owned(existing)] : []), ...(change.deleted ? [] : [owned({ ...existing, ...change.doc })])];
    checks.push({ id, op, docs });
  }
  for (const op of ['create', 'update', 'delete'] as const) {
    const mine = checks.filter((check) => check.op === op);
    if (!mine.length) continue;
    const rules = access.rules(model.name, op);
    if (!rules.length) {
      for (const check of mine) refused.set(check.id, `your roles have no ${op} permission on ${model.name}`);
      continue;
    }
    const allowed = await access.allows(session, model, rules, mine.flatMap((check) => check.docs));
    let at = 0;
    for (const check of mine) {
      const verdicts = allowed.slice(at, at += check.docs.length);
      if (verdicts.includes(false)) refused.set(check.id, `the row is outside the rows your roles may ${op}`);
    }
  }
  return refused;
}

/** Checks the changes against the served models: a model not served is `PUSH_PULL_MODEL_NOT_SERVED`, anything else malformed `PUSH_CHANGE_INVALID`. */
function checkChanges(changes: PushChange[], models: Map<string, ServedModel>, served: string[]): void {
  const unknown = [...new Set(changes.map((change) => change.model).filter((name) => !models.has(name)))];
  if (unknown.length) throw PushPullError.modelNotServed(unknown, served);
  changes.forEach((change, index) => {
    const model = models.get(change.model)!;
    const scalar = (value: unknown) => typeof value === 'string' || typeof value === 'number';
    if (model.key.length === 1 ? !scalar(change.id) : !(Array.isArray(change.id) && change.id.length === model.key.length && change.id.every(scalar))) {
      throw PushPullError.changeInvalid(index, change.model, model.key.length === 1 ? 'it has no id' :
        `its id is not the list of its ${model.key.length} key values (${keyProperties(model).join(', ')})`);
    }
    if (change.deleted) return;
    if (!change.doc) throw PushPullError.changeInvalid(index, change.model, 'it has no doc (send deleted: true for a delete)');
    const properties = new Set(model.fields.map((field) => field.property));
    const strange = Object.keys(change.doc).filter((property) => !properties.has(property));
    if (strange.length) throw PushPullError.changeInvalid(index, change.model, `${strange.join(', ')} ${strange.length === 1 ? 'is' : 'are'} not a property it syncs (${[...properties].join(', ')})`);
  });
}

/**
 * Applies a client's changes in one transaction, with a result per row: created, updated,
 * deleted, or a conflict when the server changed the row after the client's `checkpoint` (another
 * client or the app; the client's own earlier pushes are not conflicts), resolved by the model's
 * policy (`server-wins` by default: nothing written, the server's row goes back). A replay of the same
 * `(clientId, mutationId)` returns the first result and writes nothing. A malformed change, or a
 * write the database refuses, fails the whole push typed, nothing written. Needs `installPushPull`.
 *
 * @example
 * ```ts
 * const { results } = await pushChanges(orm.em.fork(), { clientId, mutationId, checkpoint, changes: [{ model: 'Todo', id, doc: { title } }] });
 * ```
 */
export async function pushChanges(em: EntityManager, options: PushChangesOptions): Promise<PushResult> {
  checkEntityManager('pushChanges', em, 'pushChanges(orm.em.fork(), { clientId, mutationId, changes })');
  const position = decodeCheckpoint(options.checkpoint);
  try {
    return await inTransaction(em, async (tx) => {
      const session = await SqlSession.open(tx, options.signal);
      const schema = defaultSchemaOf(tx);
      // the capture records the client, the audit trail the user too (without one, an actor the app set for its transaction stays)
      const user = options.record?.user ?? options.access?.user;
      await session.query(`SELECT set_config('${PUSH_CLIENT_SETTING}', ?, true)${user === undefined ? '' : `, set_config('${AUDIT_ACTOR_SETTING}', ?, true)`}`,
        user === undefined ? [options.clientId] : [options.clientId, user]);
      const first = await session.run(`INSERT INTO ${ident(schema)}.${PUSH_LOG_TABLE} (client_id, mutation_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
        [options.clientId, options.mutationId]);
      if (!first) {
        const [done] = await session.query<{ result: PushRowResult[] | string }>(
          `SELECT result FROM ${ident(schema)}.${PUSH_LOG_TABLE} WHERE client_id = ? AND mutation_id = ?`, [options.clientId, options.mutationId]);
        return { replayed: true, results: (typeof done!.result === 'string' ? JSON.parse(done!.result) : done!.result) as PushRowResult[] };
      }
      // a client behind a forgotten delete could bring back a row the server deleted: it pulls from the start first
      const pruned = position && await prunedBelow(session, schema);
      if (position && pruned && BigInt(position.xid) < BigInt(pruned)) throw PushPullError.resyncRequired(options.checkpoint!);
      const sync = EntitySync.forEntityManager(tx);
      const tables = await TableGraph.load(session, sync.graph, schema, (entity) => sync.registryEntry(entity));
      const models = new Map(servedModels(sync, tables, undefined, options.served).map((model) => [model.name, model]));
      checkChanges(options.changes, models, [...models.keys()]);
      const tenanted = [...new Set(options.changes.map((change) => change.model))].filter((name) => models.get(name)!.tenant);
      if (tenanted.length && options.tenant === undefined) throw PushPullError.tenantRequired(tenanted);
      const access = options.access && await RequestAccess.load(session, schema, options.access, options.tenant);
      const denied = access?.denied([...new Set(options.changes.map((change) => change.model))], 'push') ?? [];
      if (denied.length) throw PushPullError.forbidden(denied, 'push', options.access!.user);
      const results: PushRowResult[] = [];
      for (const model of models.values()) {
        const mine = options.changes.filter((change) => change.model === model.name);
        if (!mine.length) continue;
        const keys = mine.map((change) => keyOf(model, change.id));
        const keyProps = keyProperties(model);
        // the rows are locked first, so that no other writer changes them between the check and the write
        const tenant = model.tenant ? options.tenant! : '';
        const owners = new Map((await session.query<{ key: string; tenant: string }>(
          `SELECT ${keyJson(model, 't')}::text AS key, ${tenantText(model, 't')} AS tenant FROM ${model.table.qualified} t ` +
          `WHERE (${model.key.map((column) => `t.${ident(column.name)}`).join(', ')}) IN ` +
          `(SELECT ${model.key.map((column, i) => `(k->>${i})::${column.type}`).join(', ')} FROM unnest(?::jsonb[]) k) FOR UPDATE`, [arrayLiteral(keys)]))
          .map((row) => [keyText(row.key), row.tenant]));
        const versions = new Map((await session.query<Version & { key: string }>(
          `SELECT key::text AS key, xid::text AS xid, seq::text AS seq, origin FROM ${ident(schema)}.${ROW_VERSION_TABLE} WHERE model = ? AND key = ANY(?::jsonb[]) AND tenant = ?`,
          [model.name, arrayLiteral(keys), tenant])).map((row) => [keyText(row.key), row]));
        const filter = keyProps.length === 1 ? { [keyProps[0]!]: { $in: mine.map((change) => change.id) } }
          : { $or: mine.map((change) => Object.fromEntries(keyProps.map((property, i) => [property, (change.id as (string | number)[])[i]]))) };
        const found = new Map((await findByFilter<object>(tx, model.name, filter, mine.length)).map((entity) => [entityKey(entity, keyProps), entity]));
        // a policy function decides on the server's row as a pull would send it
        const policy = options.conflicts?.[model.name] ?? 'server-wins';
        const dates = dateProperties(tx, model.name);
        const current = access || typeof policy === 'function' || mine.some((change) => change.assumed !== undefined) ? await readDocuments(session, model, keys) : undefined;
        const refusedByRoles = access ? await refusedByAccess(session, access, model, mine, current!, options.tenant) : new Map<string, string>();
        for (const change of mine) {
          const id = keyOf(model, change.id);
          const refusal = (model.tenant && refusedForTenant(model, change, owners.get(id), tenant)) || refusedByRoles.get(id);
          if (refusal) {
            results.push({ model: model.name, id: change.id, status: 'refused', reason: refusal });
            continue;
          }
          const entity = found.get(id);
          const version = versions.get(id);
          let write: Record<string, unknown> | null | undefined = change.deleted ? null : change.doc!;
          const result: PushRowResult = { model: model.name, id: change.id, status: 'updated' };
          const conflict = change.assumed !== undefined
            ? !sameRow(model, current!.get(id), change.assumed)
            : version && after(version, position) && version.origin !== options.clientId && (entity || !change.deleted);
          if (conflict) {
            const decided = policy === 'server-wins' ? 'server' : policy === 'client-wins' ? 'client'
              : policy({ model: model.name, id: change.id, server: current!.get(id) ?? null, client: write });
            result.status = 'conflict';
            result.resolution = typeof decided === 'string' ? decided : 'merged';
            if (decided === 'server' && options.abortOnConflict) throw PushPullError.conflict(model.name, change.id);
            if (decided === 'server') write = undefined;
            else if (typeof decided === 'object') write = decided;
          }
          if (write === null) {
            if (entity) tx.remove(entity);
            found.delete(id);
            if (result.status !== 'conflict') result.status = 'deleted';
          } else if (write !== undefined) {
            const values = entityValues(Object.fromEntries(Object.entries(write).filter(([property]) => !keyProps.includes(property))), dates,
              options.changes.indexOf(change), model.name);
            if (entity) tx.assign(entity, values);
            else if (result.status !== 'conflict') result.status = 'created';
            const owned = model.tenant && !entity ? { [model.tenant.property]: model.tenant.column.integer ? Number(tenant) : tenant } : {};
            const ids = model.key.length === 1 ? [change.id] : change.id as (string | number)[];
            const target = entity ?? createByName<object>(tx, model.name, { ...values, ...owned, ...Object.fromEntries(keyProps.map((property, i) => [property, ids[i]])) });
            found.set(id, target);
          }
          results.push(result);
        }
      }
      await tx.flush();
      // ids a client chose for a key the database numbers: the sequence moves past them, or the app's next insert takes one
      for (const model of models.values()) {
        const [key] = model.key;
        if (model.key.length === 1 && key?.sequence && results.some((result) => result.model === model.name && result.status === 'created')) await advanceSequence(session, model.table, key);
      }
      // a conflict's answer carries the server's row as it is now (as a pull would send it), for the client to take
      for (const model of models.values()) {
        const conflicts = results.filter((result) => result.status === 'conflict' && result.model === model.name);
        const now = await readDocuments(session, model, conflicts.map((result) => keyOf(model, result.id)));
        for (const result of conflicts) result.server = now.get(keyOf(model, result.id)) ?? null;
      }
      if (options.record) await recordSyncState(tx, { user: options.record.user, client: options.clientId, models: [...new Set(options.changes.map((change) => change.model))] });
      await session.run(`UPDATE ${ident(schema)}.${PUSH_LOG_TABLE} SET result = ?::jsonb WHERE client_id = ? AND mutation_id = ?`,
        [JSON.stringify(results), options.clientId, options.mutationId]);
      return { replayed: false, results };
    });
  } catch (error) {
    if (error instanceof EntitySyncError) throw error;
    throw PushPullError.rejected(error);
  }
}
