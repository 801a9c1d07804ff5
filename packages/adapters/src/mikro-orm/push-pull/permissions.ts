import { createHash } from 'node:crypto';
import { PushPullError } from '@entity-sync/core';
import type { EntityManager } from '@mikro-orm/core';
import { checkEntityManager } from '../extension/arguments.js';
import { defaultSchemaOf, inTransaction } from '../extension/compat.js';
import { EntitySync } from '../extension/entity-sync.js';
import { arrayLiteral, ident, literal, SqlSession } from '../../internal/pg/sql-session.js';
import type { CatalogColumn } from '../../internal/pg/table-catalog.js';
import { TableGraph } from '../../internal/pg/table-graph.js';
import type { SyncAccess } from './access.js';
import { servedModels, type ServedModel } from './served-models.js';

/** The table of the permissions per role and model (`grantPermissions`). */
export const PERMISSION_TABLE = 'entity_sync_permission';

/** The table of the row filters per role and model (`grantPermissions({ filters })`). */
export const ROW_FILTER_TABLE = 'entity_sync_row_filter';

/** How a row filter compares a row's property with its value. `contains` and `startsWith` compare the property's text. */
export type RowFilterOp = 'eq' | 'in' | 'gte' | 'lte' | 'contains' | 'startsWith';

const OPS: readonly RowFilterOp[] = ['eq', 'in', 'gte', 'lte', 'contains', 'startsWith'];

/** A row filter value that stands for the id of the user making the request (a JWT's subject). */
export const CURRENT_USER = Object.freeze({ $ref: 'user' as const });

/** A row filter value that stands for the tenant the request syncs. */
export const CURRENT_TENANT = Object.freeze({ $ref: 'tenant' as const });

/** A value a row filter compares with: a JSON scalar, a list of them for `in`, or the request's user or tenant. */
export type RowFilterValue = string | number | boolean | null | (string | number | boolean)[] | typeof CURRENT_USER | typeof CURRENT_TENANT;

/** One condition on a row's property; a role's filters on a model must all hold for a row to be the role's. */
export interface RowFilter {
  /** A property the model syncs, or its tenant property. */
  field: string;
  op: RowFilterOp;
  value: RowFilterValue;
}

/** What a role may do with a model's rows, and which rows (all, when it has no filters). */
export interface ModelPermission {
  role: string;
  model: string;
  /** Pull the rows its filters let through. */
  pull: boolean;
  /** Push changes at all; each kind of change needs its own right too. */
  push: boolean;
  create: boolean;
  update: boolean;
  delete: boolean;
  filters: RowFilter[];
}

/** Options of `grantPermissions`: the rights not named are false; `filters` replace the role's filters on the model (none: every row). */
export type GrantPermissionsOptions = Pick<ModelPermission, 'role' | 'model'> & Partial<Omit<ModelPermission, 'role' | 'model'>>;

/** The permission tables, created by `installPushPull`. */
export function permissionTablesSql(): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${PERMISSION_TABLE} (role text NOT NULL, model text NOT NULL, can_pull boolean NOT NULL, can_push boolean NOT NULL, ` +
      'can_create boolean NOT NULL, can_update boolean NOT NULL, can_delete boolean NOT NULL, changed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (role, model))',
    `CREATE TABLE IF NOT EXISTS ${ROW_FILTER_TABLE} (role text NOT NULL, model text NOT NULL, position integer NOT NULL, field text NOT NULL, ` +
      `op text NOT NULL CHECK (op IN (${OPS.map(literal).join(', ')})), value jsonb, PRIMARY KEY (role, model, position))`,
  ];
}

const isRef = (value: unknown): value is { $ref: 'user' | 'tenant' } =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && ((value as { $ref?: unknown }).$ref === 'user' || (value as { $ref?: unknown }).$ref === 'tenant');
const isScalar = (value: unknown) => ['string', 'number', 'boolean'].includes(typeof value);

/** The column a filter's field names: a property the model syncs, or its tenant property. */
function filterColumn(model: ServedModel, field: string): CatalogColumn | undefined {
  return model.fields.find((candidate) => candidate.property === field)?.column ?? (model.tenant?.property === field ? model.tenant.column : undefined);
}

/** Why a filter cannot be kept for `model`, or undefined when it can. */
function filterProblem(model: ServedModel, filter: RowFilter): string | undefined {
  if (!filter || typeof filter !== 'object') return 'a filter must be { field, op, value }';
  if (!filterColumn(model, filter.field)) return `${JSON.stringify(filter.field)} is not a property ${model.name} syncs (${model.fields.map((field) => field.property).join(', ')})`;
  if (!OPS.includes(filter.op)) return `op ${JSON.stringify(filter.op)} is not one of ${OPS.join(', ')}`;
  if (filter.op === 'in') return Array.isArray(filter.value) && filter.value.every(isScalar) ? undefined : "op 'in' takes a list of strings, numbers or booleans";
  if (isRef(filter.value) || isScalar(filter.value) || (filter.value === null && filter.op === 'eq')) return undefined;
  return `the value of op ${filter.op} must be a string, a number, a boolean, CURRENT_USER or CURRENT_TENANT${filter.op === 'eq' ? ', or null' : ''}`;
}

/**
 * Gives `role` rights on `model` (the rights not named are false) and, with `filters`, replaces
 * the role's row filters on it. Kept in the database (the tables `installPushPull` creates): the
 * next request of every user with the role is served by it; nothing is cached.
 *
 * @example
 * ```ts
 * await grantPermissions(orm.em.fork(), { role: 'member', model: 'Todo', pull: true, push: true, create: true, update: true,
 *   filters: [{ field: 'owner', op: 'eq', value: CURRENT_USER }] });
 * ```
 */
export async function grantPermissions(em: EntityManager, options: GrantPermissionsOptions): Promise<void> {
  checkEntityManager('grantPermissions', em, "grantPermissions(orm.em.fork(), { role: 'member', model: 'Todo', pull: true })");
  await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = ident(defaultSchemaOf(tx));
    const sync = EntitySync.forEntityManager(tx);
    if (typeof options.role !== 'string' || !options.role) throw PushPullError.permissionInvalid(options.role, options.model, 'the role must be a non-empty string');
    if (!sync.syncModelNames().includes(options.model)) throw PushPullError.permissionInvalid(options.role, options.model, `it is not a @SyncModel (${sync.syncModelNames().join(', ')})`);
    const [model] = servedModels(sync, await TableGraph.load(session, sync.graph, defaultSchemaOf(tx), (entity) => sync.registryEntry(entity)), [options.model]);
    for (const filter of options.filters ?? []) {
      const problem = filterProblem(model!, filter);
      if (problem) throw PushPullError.permissionInvalid(options.role, options.model, problem);
    }
    await session.run(`INSERT INTO ${schema}.${PERMISSION_TABLE} (role, model, can_pull, can_push, can_create, can_update, can_delete, changed_at) ` +
      'VALUES (?, ?, ?, ?, ?, ?, ?, now()) ON CONFLICT (role, model) DO UPDATE SET can_pull = EXCLUDED.can_pull, can_push = EXCLUDED.can_push, ' +
      'can_create = EXCLUDED.can_create, can_update = EXCLUDED.can_update, can_delete = EXCLUDED.can_delete, changed_at = now()',
    [options.role, options.model, !!options.pull, !!options.push, !!options.create, !!options.update, !!options.delete]);
    if (options.filters) {
      await session.run(`DELETE FROM ${schema}.${ROW_FILTER_TABLE} WHERE role = ? AND model = ?`, [options.role, options.model]);
      for (const [position, filter] of options.filters.entries()) {
        await session.run(`INSERT INTO ${schema}.${ROW_FILTER_TABLE} (role, model, position, field, op, value) VALUES (?, ?, ?, ?, ?, ?::jsonb)`,
          [options.role, options.model, position, filter.field, filter.op, JSON.stringify(filter.value)]);
      }
    }
  });
}

/** Takes every right of `role` on `model` (or on every model), and its row filters; takes effect on the next request. */
export async function revokePermissions(em: EntityManager, options: { role: string; model?: string }): Promise<void> {
  checkEntityManager('revokePermissions', em, "revokePermissions(orm.em.fork(), { role: 'member', model: 'Todo' })");
  await inTransaction(em, async (tx) => {
    const session = await SqlSession.open(tx);
    const schema = ident(defaultSchemaOf(tx));
    for (const table of [PERMISSION_TABLE, ROW_FILTER_TABLE]) {
      await session.run(`DELETE FROM ${schema}.${table} WHERE role = ?${options.model ? ' AND model = ?' : ''}`, [options.role, ...(options.model ? [options.model] : [])]);
    }
  });
}

interface PermissionRow { role: string; model: string; can_pull: boolean; can_push: boolean; can_create: boolean; can_update: boolean; can_delete: boolean; filters: string }

async function readPermissions(session: SqlSession, schema: string, roles?: string[]): Promise<ModelPermission[]> {
  const rows = await session.query<PermissionRow>(
    `SELECT p.role, p.model, p.can_pull, p.can_push, p.can_create, p.can_update, p.can_delete, ` +
    `coalesce((SELECT json_agg(json_build_object('field', f.field, 'op', f.op, 'value', f.value) ORDER BY f.position) FROM ${schema}.${ROW_FILTER_TABLE} f ` +
    `WHERE f.role = p.role AND f.model = p.model), '[]')::text AS filters FROM ${schema}.${PERMISSION_TABLE} p` +
    `${roles ? ' WHERE p.role = ANY(?::text[])' : ''} ORDER BY p.role, p.model`, roles ? [arrayLiteral(roles)] : []);
  return rows.map((row) => ({
    role: row.role, model: row.model, pull: row.can_pull, push: row.can_push, create: row.can_create, update: row.can_update, delete: row.can_delete,
    filters: JSON.parse(row.filters) as RowFilter[],
  }));
}

/** Every permission kept, by role and model, with its row filters: what the admin page shows. */
export async function listPermissions(em: EntityManager): Promise<ModelPermission[]> {
  checkEntityManager('listPermissions', em, 'listPermissions(orm.em.fork())');
  return inTransaction(em, async (tx) => readPermissions(await SqlSession.open(tx), ident(defaultSchemaOf(tx)), undefined));
}

/** The rights a request's user has, read in the request's own transaction (no cache: a revocation takes effect on the next request). */
export class RequestAccess {
  private constructor(
    private readonly permissions: ModelPermission[],
    private readonly access: SyncAccess,
    private readonly tenant: string | undefined,
  ) {}

  /** Reads the permissions of `access`'s roles. */
  static async load(session: SqlSession, schema: string, access: SyncAccess, tenant: string | undefined): Promise<RequestAccess> {
    return new RequestAccess(await readPermissions(session, ident(schema), access.roles), access, tenant);
  }

  /** The permissions of the user's roles on `model` that give `right`. */
  rules(model: string, right: 'pull' | 'push' | 'create' | 'update' | 'delete'): ModelPermission[] {
    return this.permissions.filter((permission) => permission.model === model && permission[right] && (right === 'pull' || permission.push));
  }

  /** The models among `models` no role of the user may `right` (pull or push). */
  denied(models: string[], right: 'pull' | 'push'): string[] {
    return models.filter((model) => !this.rules(model, right).length);
  }

  /**
   * Splits `models` into those the user may pull and those denied: named in the request
   * (`explicit`), a denied model is `PUSH_PULL_FORBIDDEN` naming it; asked for all, it is left out.
   */
  pullable<M extends { name: string }>(models: M[], explicit: boolean): { allowed: M[]; denied: M[] } {
    const names = this.denied(models.map((model) => model.name), 'pull');
    if (explicit && names.length) throw PushPullError.forbidden(names, 'pull', this.access.user);
    return { allowed: models.filter((model) => !names.includes(model.name)), denied: models.filter((model) => names.includes(model.name)) };
  }

  /** The rules and the values they stand for, as one text: a pull checkpoint carries its hash, so that a change of them restarts the client's pull. */
  fingerprint(models: string[]): string {
    const rules = this.permissions.filter((permission) => models.includes(permission.model) && permission.pull);
    const usesUser = rules.some((rule) => rule.filters.some((filter) => isRef(filter.value) && filter.value.$ref === 'user'));
    const text = JSON.stringify([[...models].sort(), this.tenant ?? null, usesUser ? this.access.user : null, rules]);
    return createHash('sha256').update(text).digest('hex').slice(0, 12);
  }

  /** An SQL condition on a row's column expressions: some rule's filters all hold ('false' without rules). */
  condition(model: ServedModel, rules: ModelPermission[], column: (column: CatalogColumn, field: string) => string): string {
    if (!rules.length) return 'false';
    const conditions = rules.map((rule) => rule.filters.map((filter) => this.filterSql(model, filter, column)).join(' AND ') || 'true');
    return conditions.includes('true') ? 'true' : conditions.map((condition) => `(${condition})`).join(' OR ');
  }

  private filterSql(model: ServedModel, filter: RowFilter, columnOf: (column: CatalogColumn, field: string) => string): string {
    const column = filterColumn(model, filter.field);
    // a filter on a property no longer synced, or a reference to a value the request lacks, lets nothing through
    if (!column) return 'false';
    const expression = columnOf(column, filter.field);
    const resolve = (value: unknown): string | null => {
      if (isRef(value)) return value.$ref === 'user' ? this.access.user : this.tenant ?? null;
      return value === null ? null : String(value);
    };
    if (filter.op === 'in') {
      const values = (Array.isArray(filter.value) ? filter.value : []).map(resolve).filter((value): value is string => value !== null);
      return values.length ? `${expression} = ANY(${literal(arrayLiteral(values))}::${column.type}[])` : 'false';
    }
    const value = resolve(filter.value);
    if (value === null) return filter.op === 'eq' && !isRef(filter.value) ? `${expression} IS NULL` : 'false';
    switch (filter.op) {
      case 'eq': return `${expression} = ${literal(value)}::${column.type}`;
      case 'gte': return `${expression} >= ${literal(value)}::${column.type}`;
      case 'lte': return `${expression} <= ${literal(value)}::${column.type}`;
      case 'contains': return `strpos(${expression}::text, ${literal(value)}) > 0`;
      case 'startsWith': return `starts_with(${expression}::text, ${literal(value)})`;
      default: return 'false';
    }
  }

  /**
   * Per document (properties as a pull sends them), whether some of `rules` lets it through:
   * the same conditions as a pull's, evaluated by PostgreSQL on the document's values cast to the columns' types.
   */
  async allows(session: SqlSession, model: ServedModel, rules: ModelPermission[], docs: Record<string, unknown>[]): Promise<boolean[]> {
    if (!docs.length) return [];
    const valueSql = (doc: Record<string, unknown>) => (column: CatalogColumn, field: string) => {
      const value = doc[field];
      if (value === null || value === undefined) return `NULL::${column.type}`;
      return `${literal(typeof value === 'object' ? JSON.stringify(value) : String(value))}::${column.type}`;
    };
    const [row] = await session.query<{ allowed: boolean[] }>(
      `SELECT ARRAY[${docs.map((doc) => `coalesce(${this.condition(model, rules, valueSql(doc))}, false)`).join(', ')}]::boolean[] AS allowed`);
    const allowed = row!.allowed as unknown;
    // the drivers give a boolean[] as an array, or as its text
    return Array.isArray(allowed) ? allowed as boolean[] : String(allowed).replace(/[{}]/g, '').split(',').map((item) => item === 't' || item === 'true');
  }
}
