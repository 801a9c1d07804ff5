import type { ModelPullReport, PullReport, PulledRow } from '@entity-sync/core';
import { redactUrl } from './transport-url.js';

// one key part as it is, a composite key as its JSON list
const keyText = (row: PulledRow) => (row.key.length === 1 ? String(row.key[0]) : JSON.stringify(row.key));
const valueText = (value: string | null) => (value === null ? 'null' : JSON.stringify(value));

function counts(model: ModelPullReport, dryRun: boolean): string {
  const parts = dryRun
    ? [`${model.created} to create`, `${model.updated} to update`, `${model.deleted} to delete`, `${model.unchanged} unchanged`]
    : [`${model.created} created`, `${model.updated} updated`, `${model.deleted} deleted`, `${model.unchanged} unchanged`];
  if (model.filesFetched) parts.push(`${model.filesFetched} file(s) downloaded`);
  return parts.join(', ');
}

// The rows a dry run would write: `+` created, `~` updated with each field `old -> new`, `-` deleted.
function diff(model: ModelPullReport): string[] {
  const lines = [
    ...model.rows.created.map((row) => `    + ${keyText(row)}`),
    ...model.rows.updated.flatMap((row) => [`    ~ ${keyText(row)}`,
      ...row.changes.map((change) => `        ${change.field}: ${valueText(change.old)} -> ${valueText(change.new)}`)]),
    ...model.rows.deleted.map((row) => `    - ${keyText(row)}`),
  ];
  const listed = model.rows.created.length + model.rows.updated.length + model.rows.deleted.length;
  const total = model.created + model.updated + model.deleted;
  if (model.truncated && total > listed) lines.push(`    ... and ${total - listed} more (pass --json for the report; it lists the first rows of each kind too)`);
  return lines;
}

/** A readable account of a pull: per model the counts, and for a dry run the rows it would create, update and delete. */
export function describePull(report: PullReport, url: string): string {
  const source = redactUrl(url);
  const width = Math.max(...report.models.map((model) => model.model.length), 6);
  const lines = [report.dryRun ? `dry run of a pull from ${source}: nothing was written` : `pulled from ${source}`];
  for (const model of report.models) {
    lines.push(`  ${model.model.padEnd(width)}  ${counts(model, report.dryRun)}`);
    if (report.dryRun) lines.push(...diff(model));
  }
  if (!report.models.length) lines.push('  (the source served no model)');
  return lines.join('\n');
}
