// The diff's brute-force oracle and the random record sets it is checked on (fast-check), for the
// engine's tests in memory and against PostgreSQL tables.
import { keyText, type DiffAction, type DiffProblem, type FieldComparator } from '@entity-sync/core';
import fc from 'fast-check';

export type Row = Record<string, unknown>;

export const TEXTS = ['', 'a', 'A', ' a ', 'é', 'É', 'ß', 'SS', '😀', '😀 ', 'ａ', 'z\u0301', '\u{10FFFF}', '\uFFFF'];
const part = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 0, max: 12 }) }, { weight: 1, arbitrary: fc.constant(null) });
const textPart = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...TEXTS) }, { weight: 1, arbitrary: fc.constant(undefined) });
export const record = fc.record({
  id: part,
  sheet: textPart,
  name: fc.oneof(fc.constantFrom(...TEXTS), fc.string({ unit: 'grapheme', maxLength: 4 })),
  score: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(null), fc.double({ min: -2, max: 2, noNaN: true })),
  tags: fc.array(fc.constantFrom('x', 'y', 'ü', '😀'), { maxLength: 4 }),
  done: fc.boolean(),
});
export const sides = fc.tuple(fc.array(record, { maxLength: 25 }), fc.array(record, { maxLength: 25 }));

const isNull = (value: unknown) => value === null || value === undefined || (typeof value === 'number' && Number.isNaN(value));
// undefined is a value of its own (a field left out), not null
export const json = (value: unknown) => (value === undefined ? 'undefined' : JSON.stringify(value));

/** What the diff must give, worked out the long way: every key of both sides, looked at one by one. */
export function oracle(lefts: Row[], rights: Row[], keyOf: (row: Row) => unknown[], options: { fields?: string[]; compare?: Record<string, FieldComparator>; lists?: string[]; keyFields: string[] }) {
  const problems: unknown[] = [];
  const actions: unknown[] = [];
  const byKey = (rows: Row[], side: 'left' | 'right') => {
    const map = new Map<string, Row[]>();
    for (const row of rows) {
      const key = keyOf(row);
      if (key.some(isNull)) {
        problems.push({ problem: 'null-key', side, key: json(key), records: [row] });
        continue;
      }
      map.set(keyText(key), [...(map.get(keyText(key)) ?? []), row]);
    }
    return map;
  };
  const left = byKey(lefts, 'left');
  const right = byKey(rights, 'right');
  for (const text of new Set([...left.keys(), ...right.keys()])) {
    const l = left.get(text) ?? [];
    const r = right.get(text) ?? [];
    if (l.length > 1) problems.push({ problem: 'duplicate-key', side: 'left', key: text, records: l });
    if (r.length > 1) problems.push({ problem: 'duplicate-key', side: 'right', key: text, records: r });
    if (l.length > 1 || r.length > 1) continue;
    if (!r.length) actions.push({ action: 'create', key: text });
    else if (!l.length) actions.push({ action: 'delete', key: text });
    else {
      const changes: unknown[] = [];
      for (const field of options.fields ?? Object.keys(l[0]!).filter((name) => !options.keyFields.includes(name))) {
        const [now, was] = [l[0]![field], r[0]![field]];
        if (options.lists?.includes(field)) {
          const want = new Set((now as unknown[]).map(json));
          const have = new Set((was as unknown[]).map(json));
          const added = [...want].filter((item) => !have.has(item)).sort();
          const removed = [...have].filter((item) => !want.has(item)).sort();
          if (added.length || removed.length) changes.push({ field, added, removed });
        } else if (!(options.compare?.[field] ? options.compare[field]!(now, was) : json(now) === json(was))) {
          changes.push({ field, old: json(was), new: json(now) });
        }
      }
      if (changes.length) actions.push({ action: 'update', key: text, changes });
    }
  }
  return { actions, problems };
}

/** The diff's answer in the oracle's terms, both sorted so that the strategies' orders do not matter. */
export function normalized(result: { actions: DiffAction[]; problems: DiffProblem[] }, lists: string[] = []) {
  const order = (a: unknown, b: unknown) => (json(a) < json(b) ? -1 : json(a) > json(b) ? 1 : 0);
  return {
    actions: result.actions.map((action) => (action.action === 'update'
      ? { action: 'update', key: keyText(action.key), changes: action.changes.map((change) => (lists.includes(change.field)
        ? { field: change.field, added: change.added!.map(json).sort(), removed: change.removed!.map(json).sort() }
        : { field: change.field, old: json(change.old), new: json(change.new) })) }
      : { action: action.action, key: keyText(action.key) })).sort(order),
    problems: result.problems.map((problem) => ({ problem: problem.problem, side: problem.side, key: problem.problem === 'null-key' ? json(problem.key) : keyText(problem.key), records: problem.records }))
      .sort(order),
  };
}
export const sortedOracle = (expected: ReturnType<typeof oracle>) => {
  const order = (a: unknown, b: unknown) => (json(a) < json(b) ? -1 : json(a) > json(b) ? 1 : 0);
  return { actions: [...expected.actions].sort(order), problems: [...expected.problems].sort(order) };
};
