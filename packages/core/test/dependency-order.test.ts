import { dependencyOrder, RelationGraph, type GraphEdge, type GraphNode } from '@entity-sync/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const node = (name: string): GraphNode => ({
  name, table: name.toLowerCase(), primaryKey: ['id'], primaryKeyProperties: ['id'], pivot: false,
  columns: [{ name: 'id', property: 'id', type: 'int', nullable: false, primary: true, autoincrement: true }],
});

// `from.property` holds a key to `to`; its inverse comes along, as the graph builder makes them.
function key(from: string, property: string, to: string, nullable: boolean): GraphEdge[] {
  const fk = { owner: from, columns: [`${property}_id`], references: to, referencedColumns: ['id'], nullable };
  const name = `${from}.${property}`;
  const inverse = `${to}<-${name}`;
  return [
    { name, from, to, kind: 'many-to-one', property, owner: true, foreignKey: fk, nullable, selfReference: from === to, inverse },
    { name: inverse, from: to, to: from, kind: 'one-to-many', owner: false, foreignKey: fk, nullable: true, selfReference: from === to, inverse: name },
  ];
}

const test = suite('dependencyOrder');

test('a NOT NULL cycle is broken at an edge of the cycle, not at an entity that merely waits for it', () => {
  // Department <-> Employee (both NOT NULL); Badge needs Employee and sorts first, but is not on the cycle.
  const graph = new RelationGraph(['Badge', 'Department', 'Employee'].map(node), [
    ...key('Department', 'head', 'Employee', false),
    ...key('Employee', 'department', 'Department', false),
    ...key('Badge', 'employee', 'Employee', false),
  ]);
  const { order, deferred, cycles } = dependencyOrder(graph);
  assert.equal(order, ['Department', 'Employee', 'Badge']);
  assert.equal(deferred.map((edge) => edge.name), ['Department.head']);
  assert.equal(cycles, [['Department', 'Employee']]);
});

test('a nullable edge of the cycle is preferred, then a deferrable one', () => {
  const edges = [...key('A', 'b', 'B', false), ...key('B', 'a', 'A', true)];
  const graph = new RelationGraph(['A', 'B'].map(node), edges);
  assert.equal(dependencyOrder(graph).deferred.map((edge) => edge.name), ['B.a']);
  const strict = new RelationGraph(['A', 'B'].map(node), [...key('A', 'b', 'B', false), ...key('B', 'a', 'A', false)]);
  assert.equal(dependencyOrder(strict, undefined, { deferrable: (edge) => edge.name === 'B.a' }).deferred.map((edge) => edge.name), ['B.a']);
});

test('the entities of a cycle stand together, whatever their names', () => {
  // C needs A; A <-> Z form a cycle: C must not come between them.
  const graph = new RelationGraph(['A', 'C', 'Z'].map(node), [
    ...key('A', 'z', 'Z', true), ...key('Z', 'a', 'A', false), ...key('C', 'a', 'A', false),
  ]);
  const { order, cycles } = dependencyOrder(graph);
  assert.equal(order, ['A', 'Z', 'C']);
  assert.equal(cycles, [['A', 'Z']]);
});

test('acyclic graphs keep the alphabetical order among ready entities, and self-references need nothing', () => {
  const graph = new RelationGraph(['Tree', 'Leaf', 'Gardener'].map(node), [
    ...key('Tree', 'parent', 'Tree', true), ...key('Leaf', 'tree', 'Tree', false), ...key('Tree', 'gardener', 'Gardener', false),
  ]);
  assert.equal(dependencyOrder(graph), { order: ['Gardener', 'Tree', 'Leaf'], deferred: [], cycles: [] });
});

test.run();
