import { Command, InvalidArgumentError } from 'commander';
import type { MikroORM } from '@mikro-orm/core';
import { fromEntity, fromTable } from '@entity-sync/adapters/mikro-orm';
import { describeDiff, diff, fromCsv, fromNdjson, type DiffSource } from '@entity-sync/core';
import type { CliIo } from './cli-io.js';
import { redactUrl } from './transport-url.js';

type WithOrm = <T>(work: (orm: MikroORM) => Promise<T>) => Promise<T>;

const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',').map((item) => item.trim()).filter(Boolean)];

/** The values of a record as texts (null stays null): what a CSV holds, so that a CSV compares with a typed source. */
const asText = (record: Record<string, unknown>) => Object.fromEntries(Object.entries(record).map(([field, value]) =>
  [field, value === null || value === undefined ? null : value instanceof Date ? value.toISOString() : typeof value === 'object' ? JSON.stringify(value) : String(value)]));

/** A side of `entity-sync diff`: a CSV or NDJSON file, a `postgres://...#table`, or an entity of the app's config. */
function sideOf(spec: string, key: string[], cwd: string): { source: (orm?: MikroORM) => DiffSource; needsOrm: boolean; text: boolean } {
  const path = spec.startsWith('/') ? spec : `${cwd}/${spec}`;
  if (/\.csv$/i.test(spec)) return { source: () => fromCsv(spec, path), needsOrm: false, text: true };
  if (/\.(ndjson|jsonl)$/i.test(spec)) return { source: () => fromNdjson(spec, path), needsOrm: false, text: false };
  if (/^postgres(ql)?:\/\//.test(spec)) {
    const [url, table] = spec.split('#') as [string, string | undefined];
    if (!table) throw new InvalidArgumentError(`name the table after a #: ${redactUrl(url)}#students (or #schema.students)`);
    const [schema, name] = table.includes('.') ? table.split('.') as [string, string] : [undefined, table];
    return { source: () => fromTable(url, name, { key, ...(schema ? { schema } : {}) }), needsOrm: false, text: false };
  }
  if (!/^(entity:)?[A-Za-z_$][\w$]*$/.test(spec)) throw new InvalidArgumentError(`'${spec}' is neither a .csv or .ndjson file, a postgres://...#table, nor an entity name`);
  return { source: (orm) => fromEntity(orm!.em.fork(), spec.replace(/^entity:/, ''), { key }), needsOrm: true, text: false };
}

/** The `entity-sync diff` command: two sources compared by key, the differences printed. */
export function diffCommand(io: CliIo, withOrm: WithOrm): Command {
  const command: Command = new Command('diff')
    .description('compare two sources by key: what it takes to make <right> (what is) what <left> (what should be) says')
    .argument('<left>', 'a .csv or .ndjson file, postgres://user@host/db#table, or an entity of the config (Student, entity:Student)')
    .argument('<right>', 'the same kinds')
    .requiredOption('--key <fields>', 'the key field(s), comma-separated or repeated', list)
    .option('--fields <fields>', 'compare only these fields', list)
    .option('--as-text', 'compare every value as text (on by itself when a side is a CSV file)')
    .option('--json', 'print the diff as JSON (actions, problems, counts)')
    .action(async (leftSpec: string, rightSpec: string, opts: { key: string[]; fields?: string[]; asText?: boolean; json?: boolean }) => {
      let left: ReturnType<typeof sideOf>;
      let right: ReturnType<typeof sideOf>;
      try {
        [left, right] = [sideOf(leftSpec, opts.key, io.cwd), sideOf(rightSpec, opts.key, io.cwd)];
      } catch (error) {
        // a side it cannot read is a usage error, said as commander says its own
        return command.error(`error: ${(error as Error).message}`, { exitCode: 2, code: 'entity-sync.diff.side' });
      }
      const text = opts.asText || left.text || right.text;
      // as texts, keys order as texts too: neither side can be merged in its own order
      const textual = (source: DiffSource): DiffSource => (text ? { name: source.name, records: async function* () {
        for await (const record of source.records()) yield asText(record as Record<string, unknown>);
      } } : source);
      const run = async (orm?: MikroORM) => diff(textual(left.source(orm)), textual(right.source(orm)), { key: opts.key, fields: opts.fields });
      const result = left.needsOrm || right.needsOrm ? await withOrm(run) : await run();
      io.out(opts.json ? JSON.stringify(result) : describeDiff(result, { left: leftSpec, right: rightSpec.replace(/\/\/[^@/]*@/, '//') }));
    });
  return command;
}
