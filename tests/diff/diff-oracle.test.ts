// The diff engine against a brute-force oracle (fast-check): random pairs of record sets with
// duplicate keys, null keys, unicode texts, list fields and field comparators give exactly the
// oracle's actions and problems, by the hashed strategy and by the sorted merge, with single and
// composite keys. A source that says it is sorted and is not is refused.
import { compareKeys, comparators, diff, fromRecords, isEntitySyncError, keyText, type DiffOptions } from '@entity-sync/core';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { normalized, oracle, sides, sortedOracle, type Row } from '../support/diff-oracle.js';

const CASES: { name: string; options: DiffOptions<Row, Row>; keyOf: (row: Row) => unknown[]; keyFields: string[] }[] = [
  { name: 'one key field', options: { key: 'id' }, keyOf: (row) => [row.id], keyFields: ['id'] },
  { name: 'a composite key with unicode texts', options: { key: ['sheet', 'id'] }, keyOf: (row) => [row.sheet, row.id], keyFields: ['sheet', 'id'] },
  {
    name: 'comparators and a list field', keyOf: (row) => [row.id], keyFields: ['id'],
    options: { key: 'id', lists: ['tags'], compare: { name: comparators.trimmedCaseInsensitive, score: comparators.numeric(0.5) } },
  },
  { name: 'a chosen set of fields', options: { key: (row) => row.id, fields: ['name', 'done'] }, keyOf: (row) => [row.id], keyFields: [] },
];

const test = suite('diff: the engine against a brute-force oracle');

for (const { name, options, keyOf, keyFields } of CASES) {
  test(`${name}: hashed and merged give exactly the oracle's actions and problems`, async () => {
    await fc.assert(fc.asyncProperty(sides, async ([lefts, rights]) => {
      const expected = sortedOracle(oracle(lefts, rights, keyOf, { ...options, keyFields }));
      const hashed = await diff(fromRecords('left', lefts), fromRecords('right', rights), options);
      assert.is(hashed.strategy, 'hash');
      assert.equal(normalized(hashed, options.lists), expected);
      const byKey = (a: Row, b: Row) => compareKeys(keyOf(a), keyOf(b));
      const merged = await diff(fromRecords('left', [...lefts].sort(byKey), { sortedBy: options.key }), fromRecords('right', [...rights].sort(byKey), { sortedBy: options.key }), options);
      assert.is(merged.strategy, 'merge');
      assert.equal(normalized(merged, options.lists), expected);
      assert.equal(merged.counts, hashed.counts);
      assert.is(merged.counts.create + merged.counts.update + merged.counts.delete, merged.actions.length);
    }), { numRuns: 300 });
  });
}

test('the merge streams in key order; a source that says it is sorted and is not is refused, naming it', async () => {
  const lefts = [{ id: 1, v: 'a' }, { id: 3, v: 'c' }, { id: 5, v: 'e' }];
  const rights = [{ id: 2, v: 'b' }, { id: 3, v: 'C' }, { id: 5, v: 'e' }];
  const merged = await diff(fromRecords('should', lefts, { sortedBy: 'id' }), fromRecords('is', rights, { sortedBy: 'id' }), { key: 'id' });
  assert.equal(merged.actions.map((action) => [action.action, action.key]), [['create', [1]], ['delete', [2]], ['update', [3]]]);
  assert.equal(merged.actions[2], { action: 'update', key: [3], left: lefts[1], right: rights[1], changes: [{ field: 'v', old: 'C', new: 'c' }] });
  assert.is(merged.counts.unchanged, 1);
  const error = await diff(fromRecords('should', [{ id: 2 }, { id: 1 }], { sortedBy: 'id' }), fromRecords('is', [], { sortedBy: 'id' }), { key: 'id' }).catch((caught: unknown) => caught);
  assert.ok(isEntitySyncError(error) && error.code === 'DIFF_SOURCE_NOT_SORTED', String(error));
  assert.match((error as Error).message, 'should says its records come sorted');
  const forced = await diff(fromRecords('should', lefts), fromRecords('is', rights), { key: 'id', strategy: 'merge' }).catch((caught: unknown) => caught);
  assert.ok(isEntitySyncError(forced) && forced.code === 'DIFF_SOURCE_NOT_SORTED', String(forced));
  const noKey = await diff(fromRecords('should', lefts), fromRecords('is', rights), { key: [] }).catch((caught: unknown) => caught);
  assert.ok(isEntitySyncError(noKey) && noKey.code === 'INVALID_OPTION', String(noKey));
});

test('keys order as PostgreSQL\'s COLLATE "C" does: numbers numerically, texts by code point', () => {
  const texts = ['b', 'a', 'é', '😀', '\uFFFF', 'A', '', 'ab'];
  assert.equal([...texts].sort((a, b) => compareKeys([a], [b])), ['', 'A', 'a', 'ab', 'b', 'é', '\uFFFF', '😀']);
  assert.equal([10, 9, 1.5, -1].sort((a, b) => compareKeys([a], [b])), [-1, 1.5, 9, 10]);
  assert.is(compareKeys([1n], [1]), 0);
  assert.is(keyText([1n]), keyText([1]));
  assert.ok(compareKeys(['a', 2], ['a', 10]) < 0);
});

test('comparators: case, spaces, numeric tolerance', () => {
  assert.ok(comparators.caseInsensitive('Ada', 'ADA') && !comparators.caseInsensitive('Ada', 'Adé'));
  assert.ok(comparators.trimmed(' 7b ', '7b') && !comparators.trimmed('7 b', '7b'));
  assert.ok(comparators.numeric(0.01)('1.234', 1.23) && !comparators.numeric(0.001)(1.234, 1.23));
  assert.ok(comparators.numeric()(null, null) && !comparators.numeric()(0, null) && !comparators.numeric()('', 0));
});

test.run();
