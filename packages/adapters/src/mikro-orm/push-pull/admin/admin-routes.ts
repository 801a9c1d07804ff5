import { isEntitySyncError, OptionError, type PullReport } from '@entity-sync/core';
import type { MikroORM } from '@mikro-orm/core';
import type { HttpRoutes } from '../../../http/index.js';
import { defaultSchemaOf, inTransaction } from '../../extension/compat.js';
import { ident, SqlSession } from '../../../internal/pg/sql-session.js';
import { auditTrail, exportAuditTrail, type AuditTrailOptions } from '../audit/audit-trail.js';
import { healthChecks, type HealthRoutesOptions } from '../operations/health-routes.js';
import { grantPermissions, listPermissions, revokePermissions, type RowFilter } from '../permissions.js';
import { servedModelList } from '../served-model-list.js';
import { syncStates } from '../sync-state.js';
import { exportSyncLog, syncLog, type SyncLogOptions } from '../sync-log/sync-log.js';
import { SYNC_LOG_TABLE } from '../sync-log/sync-log-table.js';
import { html, page, type Html } from './admin-html.js';
import { AdminSession, type AdminSignIn, type AdminVisitor } from './admin-session.js';
import { auditTable, envSyncPreview, envSyncView, filtersForm, logTable, overviewView, pageLinks, permissionsView, pullReportView, usersView, type LogFigures } from './admin-views.js';

/** Options of `adminRoutes`. */
export interface AdminRoutesOptions {
  /** How staff sign in: the app's check of a user name and password, and the session token's secret. */
  signIn: AdminSignIn;
  /** The role (`sync_roles`) that opens the page (default `staff`); anyone else gets 403 and nothing of it. */
  staffRole?: string;
  /** The prefix the handler is mounted under (`createHttpHandler`'s), for the page's links; default none. */
  prefix?: string;
  /** What the overview's health checks: as `healthRoutes`. */
  health?: HealthRoutesOptions;
  /** Whether the overview links the metrics (`metricsRoutes` is mounted). */
  metrics?: boolean;
  /** Environment-sync sources a pull can be started from, and how to pull (`pullFrom`, with the dry run first). */
  envSync?: { sources: { name: string; url: string }[]; pull: (url: string, options: { dryRun: boolean }) => Promise<PullReport> };
}

const LOG_ENDPOINTS = ['pull', 'push', 'checksum', 'rxdb-pull', 'rxdb-push', 'watermelon-pull', 'watermelon-push'];
type Staff = AdminVisitor & { kind: 'staff' };

/**
 * The admin page, served by the library itself under `<prefix>/admin` (server-rendered HTML, no
 * build step): the permission matrix (editable, with row filters), users with their tenants and
 * roles and each client's sync state, the sync log and the audit trail with filters and CSV
 * export, health and the last day's figures at a glance, and environment-sync pulls started from
 * the page after their dry run. Staff sign in with a user name and password that `signIn.verify`
 * checks; only users with the staff role see anything; every change carries a CSRF token bound to
 * the session.
 *
 * @example
 * ```ts
 * adminRoutes(orm, { prefix: '/sync', signIn: { secret, issuer: 'app', audience: 'sync', verify: checkPassword } })
 * ```
 */
export function adminRoutes(orm: MikroORM, options: AdminRoutesOptions): HttpRoutes {
  if (!options?.signIn) throw OptionError.invalid('adminRoutes', 'signIn', options?.signIn, '{ secret, issuer, audience, verify }');
  const prefix = options.prefix ? `/${options.prefix.replace(/^\/|\/$/g, '')}` : '';
  const staffRole = options.staffRole ?? 'staff';
  const session = new AdminSession(options.signIn, staffRole, `${prefix}/admin`);
  const health = healthChecks(orm, options.health);
  const base = `${prefix}/admin`;
  const show = (title: string, view: string, staff: Staff, body: Html, status?: number) => page({ title, prefix, view, csrf: staff.csrf, user: staff.subject, body, status });
  const redirect = (to: string, cookie?: string) => new Response(null, { status: 303, headers: { location: to, ...(cookie ? { 'set-cookie': cookie } : {}) } });
  const problem = (error: unknown) => html`<div class="error">${isEntitySyncError(error) ? html`<strong>${error.code}</strong>: ${error.message}` : (error as Error)?.message ?? String(error)}</div>`;

  // every view and change is for staff only: anyone else is sent to sign in, or refused
  const staffOnly = (work: (staff: Staff, request: Request, url: URL) => Promise<Response>) => async ({ request, url }: { request: Request; url: URL }) => {
    const visitor = await session.visitor(request);
    if (visitor.kind === 'anonymous' || visitor.kind === 'invalid') {
      return request.method === 'GET' ? redirect(`${base}/login`) : page({ title: 'Sign in', prefix, status: 401, body: html`<p>Your session has ended. <a href="${base}/login">Sign in again</a>.</p>` });
    }
    if (visitor.kind === 'not-staff') {
      return page({ title: 'Forbidden', prefix, status: 403, body: html`<p>The admin page is for users with the role <code>${staffRole}</code>; ${visitor.subject} does not have it.</p>` });
    }
    if (request.method === 'POST') {
      const form = new URLSearchParams(await request.text());
      if (!session.csrfMatches(visitor, form.get('csrf'))) return page({ title: 'Forbidden', prefix, status: 403, body: html`<p>The form's CSRF token is missing or not this session's: reload the page and try again.</p>` });
      return work(visitor, new Request(request.url, { method: 'POST', body: form.toString(), headers: request.headers }), url);
    }
    return work(visitor, request, url);
  };
  const database = <T>(work: (session: SqlSession, schema: string) => Promise<T>) =>
    inTransaction(orm.em.fork(), async (tx) => work(await SqlSession.open(tx), ident(defaultSchemaOf(tx))));
  const exportOf = (filename: string, type: string, lines: AsyncIterable<string>) => new Response((ReadableStream.from(lines) as ReadableStream<string>).pipeThrough(new TextEncoderStream()), {
    headers: { 'content-type': `${type}; charset=utf-8`, 'content-disposition': `attachment; filename="${filename}"`, 'cache-control': 'no-store' },
  });

  return (route) => {
    route.get('/admin/login', { public: true }, async ({ url }) => page({ title: 'Sign in', prefix, status: url.searchParams.has('refused') ? 401 : 200, body: html`
${url.searchParams.get('refused') === 'credentials' ? html`<div class="error">The user name or password is wrong.</div>` : html``}
<form method="post" action="${base}/login" class="filters"><label>user name<input name="username" autocomplete="username" required></label>
<label>password<input name="password" type="password" autocomplete="current-password" required></label><button>Sign in</button></form>` }));
    route.post('/admin/login', { public: true }, async ({ request }) => {
      const form = new URLSearchParams(await request.text());
      const signed = await session.signInWith({ username: form.get('username') ?? '', password: form.get('password') ?? '' }, request);
      if ('cookie' in signed) return redirect(base, signed.cookie);
      if (signed.refused === 'not-staff') return page({ title: 'Forbidden', prefix, status: 403, body: html`<p>The admin page is for users with the role <code>${staffRole}</code>.</p>` });
      return redirect(`${base}/login?refused=credentials`);
    });
    route.post('/admin/logout', { public: true }, staffOnly(async () => redirect(`${base}/login`, session.signOutCookie())));

    route.get('/admin', { public: true }, staffOnly(async (staff) => {
      const figures = await database(async (sql, schema) => (await sql.query<LogFigures>(
        'SELECT count(*)::int AS requests, (count(*) FILTER (WHERE status >= 400))::int AS failed, coalesce(sum(rows_in), 0)::int AS "rowsIn", ' +
        'coalesce(sum(rows_out), 0)::int AS "rowsOut", coalesce(sum(conflicts), 0)::int AS conflicts, coalesce(sum(refused), 0)::int AS refused, ' +
        'percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms) AS p99 ' +
        `FROM ${schema}.${SYNC_LOG_TABLE} WHERE at >= clock_timestamp() - interval '1 day'`))[0]!);
      return show('Overview', '', staff, overviewView(prefix, await health(), figures, !!options.metrics));
    }));

    const permissions = async (staff: Staff, notice?: Html, status?: number) =>
      show('Permissions', 'permissions', staff, permissionsView(prefix, staff.csrf, await listPermissions(orm.em.fork()), servedModelList(orm).map((model) => model.model), notice), status);
    route.get('/admin/permissions', { public: true }, staffOnly(async (staff, _request, url) => {
      const saved = url.searchParams.get('saved');
      return permissions(staff, saved ? html`<p class="notice" role="status">Saved: ${saved}. The next request of that role's users obeys it.</p>` : undefined);
    }));
    route.post('/admin/permissions', { public: true }, staffOnly(async (staff, request) => {
      const form = new URLSearchParams(await request.text());
      const role = form.get('role') ?? '';
      const model = form.get('model') ?? '';
      try {
        if (form.get('do') === 'revoke') {
          await revokePermissions(orm.em.fork(), { role, model });
        } else {
          const text = (form.get('filters') ?? '').trim();
          let filters: RowFilter[];
          try {
            filters = text ? JSON.parse(text) as RowFilter[] : [];
          } catch (error) {
            throw OptionError.invalid('admin page', 'row filters', text, `a JSON list of { field, op, value } (${(error as Error).message})`);
          }
          await grantPermissions(orm.em.fork(), {
            role, model, filters, pull: form.has('pull'), push: form.has('push'), create: form.has('create'), update: form.has('update'), delete: form.has('delete'),
          });
        }
      } catch (error) {
        return permissions(staff, problem(error), 400);
      }
      return redirect(`${base}/permissions?saved=${encodeURIComponent(`${role} / ${model}`)}`);
    }));

    route.get('/admin/users', { public: true }, staffOnly(async (staff) => {
      const users = await database((sql, schema) => sql.query<{ user: string; tenants: string[]; roles: string[]; requests: number; lastSeen: string }>(
        `SELECT l.user_id AS "user", array_agg(DISTINCT l.tenant) FILTER (WHERE l.tenant IS NOT NULL) AS tenants, count(*)::int AS requests, max(l.at) AS "lastSeen", ` +
        `(SELECT r.roles FROM ${schema}.${SYNC_LOG_TABLE} r WHERE r.user_id = l.user_id ORDER BY r.id DESC LIMIT 1) AS roles ` +
        `FROM ${schema}.${SYNC_LOG_TABLE} l WHERE l.user_id IS NOT NULL GROUP BY l.user_id ORDER BY max(l.at) DESC LIMIT 500`));
      return show('Users', 'users', staff, usersView(users.map((user) => ({ ...user, tenants: user.tenants ?? [] })), await syncStates(orm.em.fork())));
    }));

    const logFilters = (url: URL): SyncLogOptions => {
      const get = (name: string) => url.searchParams.get(name) || undefined;
      const date = (name: string) => (get(name) ? new Date(get(name)!) : undefined);
      const failed = get('failed');
      return { user: get('user'), tenant: get('tenant'), client: get('client'), endpoint: get('endpoint'), model: get('model'),
        failed: failed === 'yes' ? true : failed === 'no' ? false : undefined, since: date('since'), until: date('until') };
    };
    const auditFilters = (url: URL): AuditTrailOptions => {
      const get = (name: string) => url.searchParams.get(name) || undefined;
      const key = get('key');
      let parsedKey: unknown = key;
      if (key !== undefined) {
        try {
          parsedKey = JSON.parse(key);
        } catch {
          // a key that is not JSON is the text of a text key
          parsedKey = key;
        }
      }
      const operation = get('operation') as AuditTrailOptions['operation'];
      return { model: get('model'), key: parsedKey, actor: get('actor'), operation, since: get('since') ? new Date(get('since')!) : undefined, until: get('until') ? new Date(get('until')!) : undefined };
    };
    // a listing: its filters (GET), a page of entries with the link to the next, and its exports (CSV, NDJSON) of what the filters select
    const listing = <F>(path: string, title: string, file: string, fields: { name: string; label: string; type?: string; options?: string[] }[], filters: (url: URL) => F,
      read: (filters: F & { limit: number; cursor: string | null }) => Promise<{ cursor: string | null; rows: Html }>,
      exported: (filters: F, format: 'csv' | 'ndjson') => AsyncIterable<string>) => {
      route.get(`/admin/${path}`, { public: true }, staffOnly(async (staff, _request, url) => {
        const q = url.searchParams;
        const form = filtersForm(`${base}/${path}`, fields.map((field) => ({ ...field, value: q.get(field.name) ?? '' })));
        try {
          const found = await read({ ...filters(url), limit: 100, cursor: q.get('cursor') });
          return show(title, path, staff, html`${form}${found.rows}${pageLinks(`${base}/${path}`, q, found.cursor, [[`${base}/${path}.csv`, 'CSV'], [`${base}/${path}.ndjson`, 'NDJSON']])}`);
        } catch (error) {
          return show(title, path, staff, html`${form}${problem(error)}`, 400);
        }
      }));
      for (const format of ['csv', 'ndjson'] as const) {
        route.get(`/admin/${path}.${format}`, { public: true }, staffOnly(async (_staff, _request, url) =>
          exportOf(`${file}.${format}`, format === 'csv' ? 'text/csv' : 'application/x-ndjson', exported(filters(url), format))));
      }
    };
    const when = [{ name: 'since', label: 'since', type: 'datetime-local' }, { name: 'until', label: 'until', type: 'datetime-local' }];
    listing('log', 'Sync log', 'sync-log', [
      { name: 'user', label: 'user' }, { name: 'tenant', label: 'tenant' }, { name: 'client', label: 'client' }, { name: 'endpoint', label: 'endpoint', options: LOG_ENDPOINTS },
      { name: 'model', label: 'model' }, { name: 'failed', label: 'failed', options: ['yes', 'no'] }, ...when,
    ], logFilters, async (filters) => {
      const found = await syncLog(orm.em.fork(), filters);
      return { cursor: found.cursor, rows: logTable(found.entries) };
    }, (filters, format) => exportSyncLog(orm.em.fork(), { ...filters, format }));
    listing('audit', 'Audit trail', 'audit-trail', [
      { name: 'model', label: 'model' }, { name: 'key', label: 'key (JSON)' }, { name: 'actor', label: 'actor' },
      { name: 'operation', label: 'operation', options: ['create', 'update', 'delete'] }, ...when,
    ], auditFilters, async (filters) => {
      const found = await auditTrail(orm.em.fork(), filters);
      return { cursor: found.cursor, rows: auditTable(found.entries) };
    }, (filters, format) => exportAuditTrail(orm.em.fork(), { ...filters, format }));

    const sources = options.envSync?.sources ?? [];
    route.get('/admin/env-sync', { public: true }, staffOnly(async (staff) => show('Environment sync', 'env-sync', staff, envSyncView(prefix, staff.csrf, sources))));
    for (const step of ['preview', 'apply'] as const) {
      route.post(`/admin/env-sync/${step}`, { public: true }, staffOnly(async (staff, request) => {
        const name = new URLSearchParams(await request.text()).get('source');
        const source = sources.find((candidate) => candidate.name === name);
        if (!source || !options.envSync) return show('Environment sync', 'env-sync', staff, html`<div class="error">No source is called ${name ?? '(none)'}.</div>${envSyncView(prefix, staff.csrf, sources)}`, 400);
        try {
          const report = await options.envSync.pull(source.url, { dryRun: step === 'preview' });
          return show('Environment sync', 'env-sync', staff, step === 'preview' ? envSyncPreview(prefix, staff.csrf, source.name, report)
            : html`<p class="notice" role="status">Pulled from <strong>${source.name}</strong>.</p>${pullReportView(report)}<p><a href="${base}/env-sync">Back to the sources</a></p>`);
        } catch (error) {
          return show('Environment sync', 'env-sync', staff, html`${problem(error)}${envSyncView(prefix, staff.csrf, sources)}`, isEntitySyncError(error) ? 400 : 500);
        }
      }));
    }
  };
}

