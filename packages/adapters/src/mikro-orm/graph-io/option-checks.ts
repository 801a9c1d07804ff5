import { OptionError, type DocumentEncoding } from '@entity-sync/core';
import { checkEntityManager } from '../extension/arguments.js';
import type { DeleteGraphOptions } from './delete-options.js';
import type { ExportGraphOptions } from './export-options.js';
import type { ConflictPolicy, ImportGraphOptions } from './import-options.js';

// Listed as records so that a new policy or encoding that is not added here fails to compile.
const ENCODINGS = Object.keys({ json: true, ndjson: true } satisfies Record<DocumentEncoding, true>);
const CONFLICT_POLICIES = Object.keys({ fail: true, skip: true, overwrite: true, remap: true } satisfies Record<ConflictPolicy, true>);
const TRIGGER_MODES = Object.keys({ fire: true, disable: true } satisfies Record<NonNullable<ImportGraphOptions['triggers']>, true>);
const MATCH_BY = Object.keys({ primaryKey: true, naturalKey: true } satisfies Record<NonNullable<ImportGraphOptions['matchBy']>, true>);

type Bag = Record<string, unknown>;

// Every option each function takes, as records so that an option added to an interface but not here fails to compile.
const EXPORT_OPTIONS = Object.keys({ format: 1, to: 1, exportedAt: 1, signal: 1, onProgress: 1, follow: 1, excludeRelations: 1, maxDepth: 1, maxRows: 1 } satisfies Record<keyof ExportGraphOptions, 1>);
const IMPORT_OPTIONS = Object.keys({ dryRun: 1, onConflict: 1, matchBy: 1, triggers: 1, batchSize: 1, signal: 1, onProgress: 1 } satisfies Record<keyof ImportGraphOptions, 1>);
const DELETE_OPTIONS = Object.keys({ dryRun: 1, archiveTo: 1, archiveFormat: 1, excludeRelations: 1, signal: 1, onProgress: 1 } satisfies Record<keyof DeleteGraphOptions, 1>);

// A misspelt option would otherwise be ignored without a word (plain JavaScript has no type check).
function checkKnown(fn: string, bag: Bag, known: string[]): void {
  for (const option of Object.keys(bag)) {
    if (!known.includes(option) && bag[option] !== undefined) throw OptionError.unknown(fn, option, known);
  }
}

const oneOf = (values: string[]) => `one of ${values.map((value) => `'${value}'`).join(', ')}`;

function checkBag(fn: string, options: unknown): Bag {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw OptionError.invalidArgument(fn, 'options', options, 'an object of options, or nothing');
  }
  return options as Bag;
}

function checkChoice(fn: string, bag: Bag, option: string, values: string[], hint?: string): void {
  const value = bag[option];
  if (value !== undefined && !values.includes(value as string)) throw OptionError.invalid(fn, option, value, oneOf(values), hint);
}

function checkWholeNumber(fn: string, bag: Bag, option: string, min: number, hint: string): void {
  const value = bag[option];
  if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= min)) {
    throw OptionError.invalid(fn, option, value, `a whole number of at least ${min}`, hint);
  }
}

function checkNames(fn: string, bag: Bag, option: string): void {
  const value = bag[option];
  if (value !== undefined && !(Array.isArray(value) && value.every((name) => typeof name === 'string'))) {
    throw OptionError.invalid(fn, option, value, 'a list of relation names', `Write ${option}: ['Customer.supportRep'], even for one relation.`);
  }
}

function checkTarget(fn: string, bag: Bag, option: string, sink: boolean): void {
  const value = bag[option];
  const writable = typeof value === 'object' && value !== null && typeof (value as { write?: unknown }).write === 'function';
  if (value !== undefined && typeof value !== 'string' && !writable && !(sink && typeof value === 'function')) {
    throw OptionError.invalid(fn, option, value, `a file path or a writable stream${sink ? ', or a sink function' : ''}`);
  }
}

function checkRenamedExclude(fn: string, bag: Bag): void {
  if ('exclude' in bag) {
    throw OptionError.renamed(fn, 'exclude', 'excludeRelations',
      "it lists relations; @SyncModel's exclude is another option, which lists columns");
  }
}

/** Throws `INVALID_OPTION` for an `exportGraph` entity manager or option it cannot use. */
export function checkExportOptions(em: unknown, options?: ExportGraphOptions): void {
  const fn = 'exportGraph';
  checkEntityManager(fn, em, 'exportGraph(em, roots, { to })');
  const bag = checkBag(fn, options);
  checkRenamedExclude(fn, bag);
  checkKnown(fn, bag, EXPORT_OPTIONS);
  checkChoice(fn, bag, 'format', ENCODINGS);
  checkTarget(fn, bag, 'to', true);
  checkWholeNumber(fn, bag, 'maxRows', 1, 'Omit it for no limit.');
  checkWholeNumber(fn, bag, 'maxDepth', 0, 'Omit it to collect owned rows at every depth; 0 keeps the roots alone.');
  checkNames(fn, bag, 'follow');
  checkNames(fn, bag, 'excludeRelations');
}

/** Throws `INVALID_OPTION` for an `importGraph` entity manager or option it cannot use. */
export function checkImportOptions(em: unknown, options?: ImportGraphOptions): void {
  const fn = 'importGraph';
  checkEntityManager(fn, em, "importGraph(em, 'graph.json', { dryRun: true })");
  const bag = checkBag(fn, options);
  checkKnown(fn, bag, IMPORT_OPTIONS);
  checkChoice(fn, bag, 'onConflict', CONFLICT_POLICIES);
  checkChoice(fn, bag, 'matchBy', MATCH_BY,
    bag.matchBy === 'natural-key' || bag.matchBy === 'primary-key'
      ? `'${bag.matchBy}' is the CLI's spelling (--match-by); in code write '${bag.matchBy === 'natural-key' ? 'naturalKey' : 'primaryKey'}'.`
      : undefined);
  checkChoice(fn, bag, 'triggers', TRIGGER_MODES);
  checkWholeNumber(fn, bag, 'batchSize', 1, 'Omit it for the default, 5000.');
}

/** Throws `INVALID_OPTION` for a `deleteGraph` entity manager or option it cannot use. */
export function checkDeleteOptions(em: unknown, options?: DeleteGraphOptions): void {
  const fn = 'deleteGraph';
  checkEntityManager(fn, em, 'deleteGraph(em, roots, { dryRun: true })');
  const bag = checkBag(fn, options);
  checkRenamedExclude(fn, bag);
  checkKnown(fn, bag, DELETE_OPTIONS);
  checkChoice(fn, bag, 'archiveFormat', ENCODINGS);
  checkTarget(fn, bag, 'archiveTo', false);
  checkNames(fn, bag, 'excludeRelations');
}
