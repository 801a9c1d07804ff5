import { DiffError } from '../errors/diff-error.js';
import { OptionError } from '../errors/option-error.js';
import { compareKeys, isNullPart, keyFields, keyReader, keyText, type KeyReader, type KeySpec } from './diff-key.js';
import type { DiffCandidates, DiffSource } from './diff-source.js';
import { sameValue, type FieldComparator } from './field-compare.js';

/** One field an update changes: `old` is the right side's (what is), `new` the left's (what should be). */
export interface FieldDiff {
  field: string;
  old: unknown;
  new: unknown;
  /** For a list field: the elements only the left has (to add), and only the right has (to remove). */
  added?: unknown[];
  removed?: unknown[];
}

/** What it takes to make the right side what the left says. */
export type DiffAction<L = Record<string, unknown>, R = Record<string, unknown>> =
  | { action: 'create'; key: unknown[]; left: L }
  | { action: 'update'; key: unknown[]; left: L; right: R; changes: FieldDiff[] }
  | { action: 'delete'; key: unknown[]; right: R };

/** Records the diff cannot match: a key held by more than one record of a side, or a key with a null part. No action is given for them. */
export interface DiffProblem<L = Record<string, unknown>, R = Record<string, unknown>> {
  problem: 'duplicate-key' | 'null-key';
  side: 'left' | 'right';
  key: unknown[];
  /** Every record of that side with the key (a null key: the one record). */
  records: (L | R)[];
}

/** Options of `diff` and `diffStream`. */
export interface DiffOptions<L = Record<string, unknown>, R = Record<string, unknown>> {
  /** The key records are matched by, on both sides. */
  key: KeySpec<L & R>;
  /** The fields compared (default: the left record's own, but the key's). */
  fields?: string[];
  /** Per field, when two values count as the same (`comparators.caseInsensitive`, `numeric(0.01)`, a function); default `sameValue`. */
  compare?: Record<string, FieldComparator>;
  /** Fields holding lists compared as sets: their changes say which elements to add and remove. */
  lists?: string[];
  /**
   * `merge` needs both sources sorted by the key; `hash` holds both sides' records in memory;
   * `sql` (two tables of one PostgreSQL database) and `bisect` (of two) let the sources find
   * what may differ in their databases, and read only those records. Default: what the sources
   * can do, in that order of preference: `sql` or `bisect`, then `merge` when both say they are
   * sorted by the key, else `hash`.
   */
  strategy?: DiffStrategy;
  signal?: AbortSignal;
}

/** How a diff matches records (see `DiffOptions.strategy`). */
export type DiffStrategy = 'merge' | 'hash' | 'sql' | 'bisect';

/** What `diff` found. */
export interface DiffResult<L = Record<string, unknown>, R = Record<string, unknown>> {
  actions: DiffAction<L, R>[];
  problems: DiffProblem<L, R>[];
  strategy: DiffStrategy;
  counts: { create: number; update: number; delete: number; unchanged: number; problems: number };
  /** For `sql` and `bisect`: what finding the records that may differ took (queries, rows listed and fetched, levels). */
  stats?: Record<string, number>;
}

const sameSpec = (a: KeySpec<never> | undefined, b: KeySpec<never>) => a !== undefined && (a === b || (typeof a !== 'function' && typeof b !== 'function' &&
  JSON.stringify(keyFields(a)) === JSON.stringify(keyFields(b))));

/** A key's records on one side, or a record whose key has a null part. */
type Group<T> = { key: unknown[]; records: T[]; nullKey?: true };

/** The records of a sorted source, grouped by key in ascending order (records with a null key part alone); `DIFF_SOURCE_NOT_SORTED` at a key out of order. */
async function* sortedGroups<T>(source: DiffSource<T>, readKey: KeyReader<T>, signal?: AbortSignal): AsyncGenerator<Group<T>> {
  let current: Group<T> | undefined;
  for await (const record of source.records(signal)) {
    signal?.throwIfAborted();
    const key = readKey(record);
    if (key.some(isNullPart)) {
      yield { key, records: [record], nullKey: true };
      continue;
    }
    const order = current ? compareKeys(key, current.key) : 1;
    if (order === 0) {
      current!.records.push(record);
      continue;
    }
    if (order < 0) throw DiffError.notSorted(source.name, key, current!.key);
    if (current) yield current;
    current = { key, records: [record] };
  }
  if (current) yield current;
}

/**
 * What a hashed diff files a key under: a one-part key of a number or a text as itself (a text
 * with a prefix no `keyText` has), any other key as its `keyText`. Equal for equal keys.
 */
const mapKey = (key: unknown[]): unknown => {
  if (key.length === 1) {
    const [part] = key;
    if (typeof part === 'number') return Object.is(part, -0) ? 0 : part;
    if (typeof part === 'string') return `s${part}`;
    if (typeof part === 'bigint' && Number.isSafeInteger(Number(part))) return Number(part);
  }
  return keyText(key);
};

/** What `filerOf` gives a record whose key has a null part. */
const NULL_KEY = Symbol('null key');

/**
 * The function that files a record under its key's `mapKey` (`NULL_KEY` for a null part): for a
 * key of one field it reads the field alone, with no list made per record.
 */
function filerOf<T>(spec: KeySpec<never>, readKey: KeyReader<T>): (record: T) => unknown {
  const single = typeof spec === 'string' ? spec : Array.isArray(spec) && spec.length === 1 ? spec[0] as string : undefined;
  if (single === undefined) return (record) => {
    const key = readKey(record);
    return key.some(isNullPart) ? NULL_KEY : mapKey(key);
  };
  return (record) => {
    const part = (record as Record<string, unknown>)[single];
    if (typeof part === 'number') return Number.isNaN(part) ? NULL_KEY : Object.is(part, -0) ? 0 : part;
    if (typeof part === 'string') return `s${part}`;
    return isNullPart(part) ? NULL_KEY : mapKey([part]);
  };
}

/** Every record of a source grouped by key, in the order keys first came; those with a null key part apart. */
async function hashedGroups<T>(source: DiffSource<T>, file: (record: T) => unknown, signal?: AbortSignal): Promise<{ groups: Map<unknown, T[]>; nulls: T[] }> {
  const groups = new Map<unknown, T[]>();
  const nulls: T[] = [];
  const add = (record: T) => {
    const filed = file(record);
    if (filed === NULL_KEY) return void nulls.push(record);
    const group = groups.get(filed);
    if (group) group.push(record);
    else groups.set(filed, [record]);
  };
  const records = source.records(signal);
  // records in memory are read without an await each
  if (Symbol.iterator in records) {
    let n = 0;
    for (const record of records as Iterable<T>) {
      if ((++n & 0xffff) === 0) signal?.throwIfAborted();
      add(record);
    }
  } else {
    for await (const record of records) {
      signal?.throwIfAborted();
      add(record);
    }
  }
  return { groups, nulls };
}

type DiffEvent<L, R> = DiffAction<L, R> | DiffProblem<L, R> | { unchanged: unknown[] };

/** The events of one key: problems for duplicates, else its action (or that it is the same), handed to `emit`. */
function matchedInto<L, R>(key: unknown[], lefts: L[], rights: R[], options: DiffOptions<L, R>, keyNames: Set<string>, emit: (event: DiffEvent<L, R>) => void): void {
  if (lefts.length > 1) emit({ problem: 'duplicate-key', side: 'left', key, records: lefts });
  if (rights.length > 1) emit({ problem: 'duplicate-key', side: 'right', key, records: rights });
  if (lefts.length > 1 || rights.length > 1) return;
  if (!rights.length) return emit({ action: 'create', key, left: lefts[0]! });
  if (!lefts.length) return emit({ action: 'delete', key, right: rights[0]! });
  const changes = changesOf(lefts[0]!, rights[0]!, options, keyNames);
  emit(changes.length ? { action: 'update', key, left: lefts[0]!, right: rights[0]!, changes } : { unchanged: key });
}

/** The hashed strategy: both sides grouped by key, then every key's events handed to `emit` (no await between them). */
async function hashed<L, R>(left: DiffSource<L>, right: DiffSource<R>, options: DiffOptions<L, R>, readKey: KeyReader<L | R>, keyNames: Set<string>,
  emit: (event: DiffEvent<L, R>) => void): Promise<void> {
  const file = filerOf(options.key as KeySpec<never>, readKey);
  const lefts = await hashedGroups(left, file as (record: L) => unknown, options.signal);
  const rights = await hashedGroups(right, file as (record: R) => unknown, options.signal);
  for (const record of lefts.nulls) emit({ problem: 'null-key', side: 'left', key: readKey(record), records: [record] });
  for (const record of rights.nulls) emit({ problem: 'null-key', side: 'right', key: readKey(record), records: [record] });
  for (const [filed, records] of lefts.groups) {
    const other = rights.groups.get(filed);
    matchedInto(readKey(records[0]!), records, other ?? [], options, keyNames, emit);
    if (other) rights.groups.delete(filed);
  }
  for (const records of rights.groups.values()) matchedInto(readKey(records[0]!), [], records, options, keyNames, emit);
}

/** The list elements as texts (a list compared as a set). */
const elements = (value: unknown) => new Map((Array.isArray(value) ? value : value === null || value === undefined ? [] : [value]).map((item) => [keyText([item]), item]));

/** Compares matched records field by field. */
function changesOf<L, R>(left: L, right: R, options: DiffOptions<L, R>, keyNames: Set<string>): FieldDiff[] {
  const fields = options.fields ?? Object.keys(left as object).filter((field) => !keyNames.has(field));
  const lists = new Set(options.lists ?? []);
  const changes: FieldDiff[] = [];
  for (const field of fields) {
    const now = (left as Record<string, unknown>)[field];
    const was = (right as Record<string, unknown>)[field];
    if (lists.has(field)) {
      const [want, have] = [elements(now), elements(was)];
      const added = [...want].filter(([text]) => !have.has(text)).map(([, item]) => item);
      const removed = [...have].filter(([text]) => !want.has(text)).map(([, item]) => item);
      if (added.length || removed.length) changes.push({ field, old: was, new: now, added, removed });
      continue;
    }
    const same = options.compare?.[field] ?? sameValue;
    if (!same(now, was)) changes.push({ field, old: was, new: now });
  }
  return changes;
}

/**
 * The records the sources found may differ, when they can compare themselves in their databases
 * (`narrow`) and the options let them; `DIFF_STRATEGY_UNAVAILABLE` when `sql` or `bisect` was asked
 * of sources that cannot.
 */
async function candidatesOf<L, R>(left: DiffSource<L>, right: DiffSource<R>, options: DiffOptions<L, R>): Promise<DiffCandidates<L, R> | undefined> {
  const asked = options.strategy === 'sql' || options.strategy === 'bisect' ? options.strategy : undefined;
  if (options.strategy === 'merge' || options.strategy === 'hash') return undefined;
  const found = left.narrow && typeof options.key !== 'function'
    ? await left.narrow(right as DiffSource<unknown>, { key: keyFields(options.key as KeySpec<never>), ...(options.fields ? { fields: options.fields } : {}), ...(options.signal ? { signal: options.signal } : {}) })
    : undefined;
  if (asked && found?.strategy !== asked) throw DiffError.strategyUnavailable(asked, left.name, right.name);
  return found as DiffCandidates<L, R> | undefined;
}

/** The candidates' records as in-memory sources, for the hashed comparison. */
const candidateSources = <L, R>(found: DiffCandidates<L, R>, left: DiffSource<L>, right: DiffSource<R>): [DiffSource<L>, DiffSource<R>] =>
  [{ name: left.name, records: () => found.left }, { name: right.name, records: () => found.right }];

/**
 * Compares two sources by key and yields what it takes to make the right one (what is) what the
 * left one says (what should be): `create` for a key only the left has, `delete` for one only the
 * right has, `update` with each changed field for one both have (nothing for records the same).
 * Records it cannot match are problems, never merged or dropped: a key more than one record of a
 * side holds (every such record), a key with a null part. Two PostgreSQL tables (`fromTable`)
 * find in their databases the records that may differ, and only those are read (no `unchanged`
 * event is given for the rest: `diff` counts them). Both sources sorted by the key: a streaming
 * merge in constant memory, in key order; otherwise both sides are hashed.
 *
 * @example
 * ```ts
 * for await (const event of diffStream(fromCsv('roster.csv', file), fromEntity(em, Student), { key: 'studentNo' })) console.log(event);
 * ```
 */
export async function* diffStream<L = Record<string, unknown>, R = Record<string, unknown>>(left: DiffSource<L>, right: DiffSource<R>, options: DiffOptions<L, R>):
  AsyncGenerator<DiffEvent<L, R>> {
  if (!options || options.key === undefined) throw OptionError.invalid('diff', 'key', options?.key, 'the field (or fields, or a function) records are matched by');
  const readKey = keyReader('diff', options.key) as KeyReader<L | R>;
  const keyNames = new Set(keyFields(options.key as KeySpec<never>));
  const sorted = sameSpec(left.sortedBy as KeySpec<never>, options.key as KeySpec<never>) && sameSpec(right.sortedBy as KeySpec<never>, options.key as KeySpec<never>);
  if (options.strategy === 'merge' && !sorted) throw DiffError.mergeNeedsSorted(!sameSpec(left.sortedBy as KeySpec<never>, options.key as KeySpec<never>) ? left.name : right.name);
  const matched = function* (key: unknown[], lefts: L[], rights: R[]): Generator<DiffEvent<L, R>> {
    const events: DiffEvent<L, R>[] = [];
    matchedInto(key, lefts, rights, options, keyNames, (event) => void events.push(event));
    yield* events;
  };
  const nullProblem = <T extends L | R>(side: 'left' | 'right', group: Group<T>): DiffProblem<L, R> => ({ problem: 'null-key', side, key: group.key, records: group.records });
  const found = await candidatesOf(left, right, options);
  if (found) {
    const events: DiffEvent<L, R>[] = [];
    await hashed(...candidateSources(found, left, right), options, readKey, keyNames, (event) => void events.push(event));
    yield* events;
    return;
  }

  if (sorted && options.strategy !== 'hash') {
    const lefts = sortedGroups(left, readKey as KeyReader<L>, options.signal);
    const rights = sortedGroups(right, readKey as KeyReader<R>, options.signal);
    const next = async <T>(groups: AsyncGenerator<Group<T>>, side: 'left' | 'right', problems: DiffProblem<L, R>[]) => {
      for (let step = await groups.next(); !step.done; step = await groups.next()) {
        if (!step.value.nullKey) return step.value;
        problems.push(nullProblem(side, step.value as Group<L | R>));
      }
      return undefined;
    };
    const problems: DiffProblem<L, R>[] = [];
    let l = await next(lefts, 'left', problems);
    let r = await next(rights, 'right', problems);
    while (l || r) {
      yield* problems.splice(0);
      const order = !l ? 1 : !r ? -1 : compareKeys(l.key, r.key);
      if (order < 0) {
        yield* matched(l!.key, l!.records, []);
        l = await next(lefts, 'left', problems);
      } else if (order > 0) {
        yield* matched(r!.key, [], r!.records);
        r = await next(rights, 'right', problems);
      } else {
        yield* matched(l!.key, l!.records, r!.records);
        l = await next(lefts, 'left', problems);
        r = await next(rights, 'right', problems);
      }
    }
    yield* problems;
    return;
  }
  const events: DiffEvent<L, R>[] = [];
  await hashed(left, right, options, readKey, keyNames, (event) => void events.push(event));
  yield* events;
}

/**
 * `diffStream` collected: the actions, the problems, the strategy it took and the counts.
 *
 * @example
 * ```ts
 * const { actions, problems } = await diff(fromRecords('should', roster), fromRecords('is', students), { key: 'studentNo', compare: { name: comparators.trimmed } });
 * ```
 */
export async function diff<L = Record<string, unknown>, R = Record<string, unknown>>(left: DiffSource<L>, right: DiffSource<R>, options: DiffOptions<L, R>): Promise<DiffResult<L, R>> {
  const sorted = sameSpec(left.sortedBy as KeySpec<never>, options?.key as KeySpec<never>) && sameSpec(right.sortedBy as KeySpec<never>, options?.key as KeySpec<never>);
  const found = options?.key !== undefined ? await candidatesOf(left, right, options) : undefined;
  const result: DiffResult<L, R> = { actions: [], problems: [], strategy: found?.strategy ?? options?.strategy ?? (sorted ? 'merge' : 'hash'),
    counts: { create: 0, update: 0, delete: 0, unchanged: found?.unchanged ?? 0, problems: 0 }, ...(found ? { stats: found.stats } : {}) };
  const collect = (event: DiffEvent<L, R>) => {
    if ('unchanged' in event) result.counts.unchanged++;
    else if ('problem' in event) {
      result.problems.push(event);
      result.counts.problems++;
    } else {
      result.actions.push(event);
      result.counts[event.action]++;
    }
  };
  if ((result.strategy === 'hash' || found) && options?.key !== undefined) {
    // the events straight into the result: an async generator's await per event would cost more than the comparison
    await hashed(...(found ? candidateSources(found, left, right) : [left, right] as const), options, keyReader('diff', options.key) as KeyReader<L | R>,
      new Set(keyFields(options.key as KeySpec<never>)), collect);
  } else {
    for await (const event of diffStream(left, right, options)) collect(event);
  }
  return result;
}
