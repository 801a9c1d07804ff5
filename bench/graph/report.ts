/** One line of the summary: what entity-sync did, what it is compared with, and the target. */
export interface Verdict {
  figure: string;
  measured: string;
  baseline: string;
  ratio: string;
  target: string;
  met: boolean;
}

export const percent = (value: number) => `${(value * 100).toFixed(0)}%`;
export const times = (value: number) => `${value.toFixed(1)}x`;

const columns: [keyof Verdict, string, 'left' | 'right'][] = [
  ['figure', 'figure', 'left'],
  ['measured', 'entity-sync', 'right'],
  ['baseline', 'compared with', 'right'],
  ['ratio', 'ratio', 'right'],
  ['target', 'target', 'left'],
];

/** Prints the verdicts as a table, misses included, and a count of the misses. */
export function printSummary(verdicts: Verdict[]): void {
  const widths = columns.map(([key, title]) => Math.max(title.length, ...verdicts.map((v) => String(v[key]).length)));
  const cell = (text: string, i: number) => (columns[i]![2] === 'left' ? text.padEnd(widths[i]!) : text.padStart(widths[i]!));
  const line = (cells: string[], met: string) => console.log(`${cells.map(cell).join('  ')}  ${met}`);
  line(columns.map(([, title]) => title), 'met');
  line(widths.map((width) => '-'.repeat(width)), '---');
  for (const v of verdicts) line(columns.map(([key]) => String(v[key])), v.met ? 'yes' : 'NO');
  const missed = verdicts.filter((v) => !v.met).map((v) => v.figure);
  console.log(missed.length ? `${missed.length} of ${verdicts.length} targets missed: ${missed.join('; ')}` : `all ${verdicts.length} targets met`);
}
