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

/** Hands every record of a source to `each`: records in memory without an await each. */
async function eachRecord<T>(source: DiffSource<T>, signal: AbortSignal | undefined, each: (record: T) => void): Promise<void> {
  const records = source.records(signal);
  if (Symbol.iterator in records) {
    let n = 0;
    for (const record of records as Iterable<T>) {
      if ((++n & 0xffff) === 0) signal?.throwIfAborted();
      each(record);
    }
  } else {
    for await (const record of records) {
      signal?.throwIfAborted();
      each(record);
    }
  }
}

/** The records of one key of a side, once there is more than one (or a record a number, which a hashed diff's positions could not tell apart). */
class Held<T> {
  constructor(readonly records: T[]) {}
}

/** What a hashed diff holds for a key of a side: its record, or `Held` records. */
type Filed<T> = T | Held<T>;

const recordsIn = <T>(filed: Filed<T> | undefined): T[] => (filed === undefined ? [] : filed instanceof Held ? filed.records : [filed]);
const oneMore = <T>(filed: Filed<T>, record: T): Held<T> => {
  if (!(filed instanceof Held)) return new Held([filed, record]);
  filed.records.push(record);
  return filed;
};

type DiffEvent<L, R> = DiffAction<L, R> | DiffProblem<L, R> | { unchanged: unknown[] };

/** What the events of matched records are handed to: `emit` takes actions and problems, `same` a left record the same as the right's. */
interface Sink<L, R> {
  emit: (event: DiffAction<L, R> | DiffProblem<L, R>) => void;
  same: (left: L) => void;
}

/** What comparing two records needs, worked out once per diff. */
interface Comparison<L, R> {
  options: DiffOptions<L, R>;
  keyNames: Set<string>;
  lists: Set<string> | undefined;
}

const comparisonOf = <L, R>(options: DiffOptions<L, R>): Comparison<L, R> =>
  ({ options, keyNames: new Set(keyFields(options.key as KeySpec<never>)), lists: options.lists?.length ? new Set(options.lists) : undefined });

/** The events of one key: problems for duplicates, else its action (or that it is the same). */
function matchedInto<L, R>(key: unknown[], lefts: L[], rights: R[], comparison: Comparison<L, R>, sink: Sink<L, R>): void {
  if (lefts.length > 1) sink.emit({ problem: 'duplicate-key', side: 'left', key, records: lefts });
  if (rights.length > 1) sink.emit({ problem: 'duplicate-key', side: 'right', key, records: rights });
  if (lefts.length > 1 || rights.length > 1) return;
  if (!rights.length) return sink.emit({ action: 'create', key, left: lefts[0]! });
  if (!lefts.length) return sink.emit({ action: 'delete', key, right: rights[0]! });
  const changes = changesOf(lefts[0]!, rights[0]!, comparison);
  if (changes.length) sink.emit({ action: 'update', key, left: lefts[0]!, right: rights[0]!, changes });
  else sink.same(lefts[0]!);
}

/**
 * The hashed strategy, with no await between the events: the right side is filed by key; each
 * left record then takes its key's right record (the map keeps the position of the pair, so a
 * second left record of the key is found a duplicate), and only keys the right lacks are filed
 * for the left. The pairs are compared in the order the left's keys first came, then the right's
 * keys no left record took are deleted.
 */
async function hashed<L, R>(left: DiffSource<L>, right: DiffSource<R>, options: DiffOptions<L, R>, readKey: KeyReader<L | R>, sink: Sink<L, R>): Promise<void> {
  const file = filerOf(options.key as KeySpec<never>, readKey);
  const nulls: { left: L[]; right: R[] } = { left: [], right: [] };
  const rights = new Map<unknown, Filed<R> | number>();
  await eachRecord(right, options.signal, (record) => {
    const filed = file(record);
    if (filed === NULL_KEY) return void nulls.right.push(record);
    const held = rights.get(filed) as Filed<R> | undefined;
    rights.set(filed, held !== undefined ? oneMore(held, record) : typeof record === 'number' ? new Held([record]) : record);
  });
  // position i: the left record(s) of a key, and the right's (undefined: the right lacks the key)
  const lefts: Filed<L>[] = [];
  const pairs: (Filed<R> | undefined)[] = [];
  const onlyLeft = new Map<unknown, number>();
  let taken = 0;
  await eachRecord(left, options.signal, (record) => {
    const filed = file(record);
    if (filed === NULL_KEY) return void nulls.left.push(record);
    const held = rights.get(filed);
    const at = typeof held === 'number' ? held : held === undefined ? onlyLeft.get(filed) : undefined;
    if (at !== undefined) return void (lefts[at] = oneMore(lefts[at]!, record));
    if (held !== undefined) {
      rights.set(filed, lefts.length);
      taken++;
    } else onlyLeft.set(filed, lefts.length);
    lefts.push(record);
    pairs.push(held as Filed<R> | undefined);
  });
  for (const record of nulls.left) sink.emit({ problem: 'null-key', side: 'left', key: readKey(record), records: [record] });
  for (const record of nulls.right) sink.emit({ problem: 'null-key', side: 'right', key: readKey(record), records: [record] });
  const comparison = comparisonOf(options);
  for (let at = 0; at < lefts.length; at++) {
    const [l, r] = [lefts[at]!, pairs[at]];
    if (l instanceof Held || r instanceof Held || r === undefined) {
      const records = recordsIn(l);
      matchedInto(readKey(records[0]!), records, recordsIn(r), comparison, sink);
      continue;
    }
    const changes = changesOf(l, r, comparison);
    if (changes.length) sink.emit({ action: 'update', key: readKey(l), left: l, right: r, changes });
    else sink.same(l);
  }
  if (taken === rights.size) return;
  for (const held of rights.values()) {
    if (typeof held === 'number') continue;
    const records = recordsIn(held);
    matchedInto(readKey(records[0]!), [], records, comparison, sink);
  }
}

/** The list elements as texts (a list compared as a set). */
const elements = (value: unknown) => new Map((Array.isArray(value) ? value : value === null || value === undefined ? [] : [value]).map((item) => [keyText([item]), item]));

/** Adds to `changes` how `field` differs between the left record's value `now` and the right's `was`, if it does. */
function fieldChange<L, R>(changes: FieldDiff[], field: string, now: unknown, was: unknown, { options, lists }: Comparison<L, R>): void {
  if (lists?.has(field)) {
    const [want, have] = [elements(now), elements(was)];
    const added = [...want].filter(([text]) => !have.has(text)).map(([, item]) => item);
    const removed = [...have].filter(([text]) => !want.has(text)).map(([, item]) => item);
    if (added.length || removed.length) changes.push({ field, old: was, new: now, added, removed });
    return;
  }
  const same = options.compare?.[field] ?? sameValue;
  if (!same(now, was)) changes.push({ field, old: was, new: now });
}

/** Compares matched records field by field (the left record's own fields but the key's, unless `fields` names them). */
function changesOf<L, R>(left: L, right: R, comparison: Comparison<L, R>): FieldDiff[] {
  const changes: FieldDiff[] = [];
  const [now, was] = [left as Record<string, unknown>, right as Record<string, unknown>];
  const { fields } = comparison.options;
  if (fields) for (const field of fields) fieldChange(changes, field, now[field], was[field], comparison);
  else for (const field of Object.keys(now)) if (!comparison.keyNames.has(field)) fieldChange(changes, field, now[field], was[field], comparison);
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
  const comparison = comparisonOf(options);
  const sorted = sameSpec(left.sortedBy as KeySpec<never>, options.key as KeySpec<never>) && sameSpec(right.sortedBy as KeySpec<never>, options.key as KeySpec<never>);
  if (options.strategy === 'merge' && !sorted) throw DiffError.mergeNeedsSorted(!sameSpec(left.sortedBy as KeySpec<never>, options.key as KeySpec<never>) ? left.name : right.name);
  const events: DiffEvent<L, R>[] = [];
  const sink: Sink<L, R> = { emit: (event) => void events.push(event), same: (record) => void events.push({ unchanged: readKey(record) }) };
  const matched = function* (key: unknown[], lefts: L[], rights: R[]): Generator<DiffEvent<L, R>> {
    matchedInto(key, lefts, rights, comparison, sink);
    yield* events.splice(0);
  };
  const nullProblem = <T extends L | R>(side: 'left' | 'right', group: Group<T>): DiffProblem<L, R> => ({ problem: 'null-key', side, key: group.key, records: group.records });
  const found = await candidatesOf(left, right, options);
  if (found) {
    await hashed(...candidateSources(found, left, right), options, readKey, sink);
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
  await hashed(left, right, options, readKey, sink);
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
      { emit: collect, same: () => void result.counts.unchanged++ });
  } else {
    for await (const event of diffStream(left, right, options)) collect(event);
  }
  return result;
}
