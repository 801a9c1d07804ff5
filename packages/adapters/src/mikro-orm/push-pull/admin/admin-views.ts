import type { AuditEntry, PullReport, PulledRow } from '@entity-sync/core';
import type { HealthPart } from '../operations/health-routes.js';
import type { ModelPermission } from '../permissions.js';
import type { SyncState } from '../sync-state.js';
import type { SyncLogEntry } from '../sync-log/sync-log.js';
import { html, table, type Html } from './admin-html.js';

const RIGHTS = ['pull', 'push', 'create', 'update', 'delete'] as const;
const when = (at: string | Date | null) => (at === null ? '' : new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
const hidden = (csrf: string) => html`<input type="hidden" name="csrf" value="${csrf}">`;

/** The figures of the sync log over a window, for the overview. */
export interface LogFigures { requests: number; failed: number; rowsIn: number; rowsOut: number; conflicts: number; refused: number; p50: number | null; p99: number | null }

/** Health at a glance, the last day's figures, and where the metrics are. */
export function overviewView(prefix: string, health: { failing: string[]; parts: Record<string, HealthPart> }, figures: LogFigures, metrics: boolean): Html {
  const ms = (value: number | null) => (value === null ? '' : `${value.toFixed(1)} ms`);
  return html`<h2>Health</h2>
${health.failing.length ? html`<p class="bad" data-health="failing">Failing: ${health.failing.join(', ')}</p>` : html`<p class="ok" data-health="ok">Every part answers</p>`}
${table(['part', 'state', 'time', 'error'], Object.entries(health.parts).map(([name, part]) =>
    [name, part.ok ? html`<span class="ok">ok</span>` : html`<span class="bad">failing</span>`, `${part.ms} ms`, part.error ?? '']))}
<h2>The last 24 hours</h2>
${table(['requests', 'failed', 'rows in', 'rows out', 'conflicts', 'refused', 'p50', 'p99'],
    [[figures.requests, figures.failed, figures.rowsIn, figures.rowsOut, figures.conflicts, figures.refused, ms(figures.p50), ms(figures.p99)]])}
${metrics ? html`<p>Metrics for Prometheus: <a href="${prefix}/metrics">${prefix}/metrics</a></p>` : html``}`;
}

/** The permission matrix: roles x models x rights, each line a form of its own, and one to give a role a model. */
export function permissionsView(prefix: string, csrf: string, permissions: ModelPermission[], models: string[], notice?: Html): Html {
  const action = `${prefix}/admin/permissions`;
  const roles = [...new Set(permissions.map((permission) => permission.role))].sort();
  // a form cannot hold table cells: each line's fields name the form they belong to, and the forms follow the table
  const line = (permission: ModelPermission, n: number) => html`<tr data-role="${permission.role}" data-model="${permission.model}">
<td>${permission.role}</td><td>${permission.model}</td>
${RIGHTS.map((right) => html`<td><input type="checkbox" form="grant-${n}" name="${right}" aria-label="${right}" ${permission[right] ? html`checked` : html``}></td>`)}
<td><textarea form="grant-${n}" name="filters" rows="1" cols="44" aria-label="row filters">${permission.filters.length ? JSON.stringify(permission.filters) : ''}</textarea></td>
<td><button form="grant-${n}" name="do" value="save">Save</button> <button form="grant-${n}" name="do" value="revoke">Revoke</button></td></tr>`;
  const form = (permission: ModelPermission, n: number) => html`<form id="grant-${n}" method="post" action="${action}">${hidden(csrf)}
<input type="hidden" name="role" value="${permission.role}"><input type="hidden" name="model" value="${permission.model}"></form>`;
  return html`${notice ?? html``}<p>Row filters are a JSON list of <code>{"field", "op", "value"}</code> (op: in, eq, gte, lte, contains, startsWith; value <code>{"$ref": "user"}</code> or <code>{"$ref": "tenant"}</code> for the caller&#39;s own). A change holds from the next request on.</p>
<table><thead><tr><th>role</th><th>model</th>${RIGHTS.map((right) => html`<th>${right}</th>`)}<th>row filters</th><th></th></tr></thead>
<tbody>${permissions.map(line)}</tbody></table>${permissions.map(form)}
${permissions.length ? html`` : html`<p class="muted">No role has a permission yet.</p>`}
<h2>Give a role a model</h2>
<form method="post" action="${action}" class="filters">${hidden(csrf)}
<label>role<input name="role" list="roles" required></label><datalist id="roles">${roles.map((role) => html`<option value="${role}">`)}</datalist>
<label>model<select name="model">${models.map((model) => html`<option>${model}</option>`)}</select></label>
${RIGHTS.map((right) => html`<label>${right}<input type="checkbox" name="${right}"></label>`)}
<label>row filters<input name="filters" size="40"></label><button name="do" value="save">Grant</button></form>`;
}

/** Per user: the tenants and roles the log saw, the last request, and where each client stands. */
export function usersView(users: { user: string; tenants: string[]; roles: string[]; requests: number; lastSeen: string }[], states: SyncState[]): Html {
  return html`${table(['user', 'tenants', 'roles', 'requests', 'last seen'], users.map((user) => [user.user, user.tenants.join(', '), user.roles.join(', '), user.requests, when(user.lastSeen)]),
    'no user has synced yet')}
<h2>Sync state per client</h2>
${table(['user', 'client', 'model', 'last pull', 'last push', 'checkpoint'], states.map((state) =>
    [state.user, state.client, state.model, when(state.pulledAt), when(state.pushedAt), html`<code>${(state.checkpoint ?? '').slice(0, 24)}</code>`]), 'no client has synced yet')}`;
}

/** A form of filters (GET), its fields with their current values. */
export function filtersForm(action: string, fields: { name: string; label: string; value: string; type?: string; options?: string[] }[]): Html {
  return html`<form method="get" action="${action}" class="filters">${fields.map((field) => html`<label>${field.label}${field.options
    ? html`<select name="${field.name}">${['', ...field.options].map((option) => html`<option ${option === field.value ? html`selected` : html``}>${option}</option>`)}</select>`
    : html`<input name="${field.name}" value="${field.value}" type="${field.type ?? 'text'}">`}</label>`)}<button>Filter</button></form>`;
}

/** Links to the next page and to the exports of what the filters select. */
export function pageLinks(base: string, query: URLSearchParams, cursor: string | null, exports: [string, string][]): Html {
  const next = new URLSearchParams(query);
  if (cursor) next.set('cursor', cursor);
  const plain = new URLSearchParams(query);
  plain.delete('cursor');
  return html`<p>${cursor ? html`<a href="${base}?${next.toString()}" rel="next">Next page</a> · ` : html``}Export: ${exports.map(([path, label], i) =>
    html`${i ? ' · ' : ''}<a href="${path}?${plain.toString()}" download>${label}</a>`)}</p>`;
}

/** A page of the sync log. */
export function logTable(entries: SyncLogEntry[]): Html {
  return table(['at', 'user', 'tenant', 'client', 'endpoint', 'models', 'in', 'out', 'conflicts', 'refused', 'ms', 'status', 'error'], entries.map((entry) => [
    when(entry.at), entry.user ?? '', entry.tenant ?? '', entry.client ?? '', entry.endpoint, entry.models.join(', '), entry.rowsIn, entry.rowsOut, entry.conflicts, entry.refused,
    entry.durationMs.toFixed(1), entry.status >= 400 ? html`<span class="bad">${entry.status}</span>` : entry.status, entry.errorCode ?? '']), 'no entry matches');
}

const shown = (value: unknown) => (value === undefined ? '' : JSON.stringify(value));

/** A page of the audit trail, each entry's changes as `field: old → new`. */
export function auditTable(entries: AuditEntry[]): Html {
  return table(['at', 'model', 'key', 'operation', 'actor', 'client', 'changes'], entries.map((entry) => [
    when(entry.at), entry.model, JSON.stringify(entry.key), entry.operation, entry.actor ?? '', entry.client ?? '',
    html`${Object.entries(entry.changes).map(([field, change]) => html`<div><code>${field}</code>: ${entry.operation === 'update' ? html`${shown(change.old)} → ${shown(change.new)}` : shown(change.old ?? change.new)}</div>`)}`,
  ]), 'no entry matches');
}

const keyText = (row: PulledRow) => (row.key.length === 1 ? String(row.key[0]) : JSON.stringify(row.key));

/** A pull's report: per model the counts, and for a dry run the rows it would create, update and delete. */
export function pullReportView(report: PullReport): Html {
  return html`${report.models.map((model) => html`<h2>${model.model}</h2>
<p>${model.created} ${report.dryRun ? 'to create' : 'created'}, ${model.updated} ${report.dryRun ? 'to update' : 'updated'}, ${model.deleted} ${report.dryRun ? 'to delete' : 'deleted'}, ${model.unchanged} unchanged</p>
${report.dryRun ? html`<ul class="diff">${model.rows.created.map((row) => html`<li>+ ${keyText(row)}</li>`)}${model.rows.updated.map((row) => html`<li>~ ${keyText(row)}: ${row.changes.map((change) =>
    html`<code>${change.field}</code> ${shown(change.old)} → ${shown(change.new)} `)}</li>`)}${model.rows.deleted.map((row) => html`<li>- ${keyText(row)}</li>`)}</ul>` : html``}`)}
${report.models.length ? html`` : html`<p class="muted">The source served no model.</p>`}`;
}

/** The environment-sync sources, each with the button that previews its pull. */
export function envSyncView(prefix: string, csrf: string, sources: { name: string; url: string }[]): Html {
  return html`<p>A pull of reference data by natural key, in one transaction. Preview it first: the dry run shows what it would change, and nothing is written until you confirm.</p>
${table(['source', 'endpoint', ''], sources.map((source) => [source.name, source.url,
    html`<form method="post" action="${prefix}/admin/env-sync/preview">${hidden(csrf)}<input type="hidden" name="source" value="${source.name}"><button>Preview pull</button></form>`]),
  'no source is set up (adminRoutes({ envSync: { sources, pull } }))')}`;
}

/** The dry run of a source's pull, with the form that confirms it. */
export function envSyncPreview(prefix: string, csrf: string, source: string, report: PullReport): Html {
  return html`<p class="notice">Dry run of a pull from <strong>${source}</strong>: nothing was written.</p>${pullReportView(report)}
<form method="post" action="${prefix}/admin/env-sync/apply">${hidden(csrf)}<input type="hidden" name="source" value="${source}"><button>Confirm: pull from ${source}</button></form>`;
}
