import type { DeleteReport, ExportReport, ImportReport } from '@entity-sync/adapters/mikro-orm';

const table = (rows: [string, string][]): string[] => {
  const width = Math.max(...rows.map(([name]) => name.length), 6);
  return rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`);
};

/** A readable account of an export. */
export function describeExport(result: ExportReport, output: string): string {
  return [
    `exported ${result.rows} rows of ${result.header.entities.length} entities to ${output}`,
    ...table(result.header.entities.map((entity) => [entity.name, `${entity.rows}`])),
  ].join('\n');
}

/** A readable account of an import or its dry run. */
export function describeImport(report: ImportReport): string {
  const counts = Object.values(report.entities);
  const written = counts.reduce((sum, c) => sum + c.created + c.updated + c.remapped, 0);
  const lines = [`${report.dryRun ? 'dry run: would import' : 'imported'} ${written} rows (${report.rows} in the file)`];
  lines.push(...table(Object.entries(report.entities).map(([entity, c]) => [entity,
    Object.entries(c).filter(([, n]) => n > 0).map(([what, n]) => `${n} ${what}`).join(', ') || 'nothing'])));
  if (report.conflicts.length) lines.push(`${report.conflicts.length} conflict(s) resolved by the chosen policy`);
  if (report.sequences.length) lines.push(`sequences ${report.dryRun ? 'that would be advanced' : 'advanced'}: ${report.sequences.join(', ')}`);
  for (const change of report.rewritten) {
    lines.push(`note: ${change.rows} ${change.entity} row(s) hold another ${change.column} than the file: set by the ${change.by} ` +
      `(first keys: ${change.sample.map((key) => (key.length === 1 ? key[0] : JSON.stringify(key))).join(', ')})`);
  }
  return lines.join('\n');
}

/** A readable account of a delete or its plan, with the rows that go although they belong elsewhere too. */
export function describeDelete(report: DeleteReport): string {
  const lines = [`${report.dryRun ? 'dry run: would delete' : 'deleted'} ${report.rows} rows`];
  lines.push(...table(Object.entries(report.entities).map(([entity, n]) => [entity, `${n}`])));
  for (const entry of report.setNull) lines.push(`${entry.rows} ${entry.entity} row(s) keep their row with ${entry.relation} set to NULL`);
  for (const effect of report.outside) {
    const owners = effect.outside.map((o) => `${o.rows} ${o.entity} (${o.relation})`).join(', ');
    lines.push(`note: ${effect.rows} ${effect.entity} row(s) go because of ${effect.via}, although they also belong to ${owners} outside this graph`);
    lines.push(`      first keys: ${effect.sample.map((key) => (key.length === 1 ? key[0] : JSON.stringify(key))).join(', ')}`);
  }
  if (report.archived !== undefined) lines.push(`archived ${report.archived} rows first`);
  return lines.join('\n');
}
