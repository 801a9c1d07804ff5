import { RelationGraph, type GraphEdge, type GraphNode } from '@entity-sync/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const node = (name: string): GraphNode => ({
  name, table: name.toLowerCase(), primaryKey: ['id'], primaryKeyProperties: ['id'], pivot: false,
  columns: [{ name: 'id', property: 'id', type: 'int', nullable: false, primary: true, autoincrement: true }],
});
const fk = { owner: 'Child', columns: ['parent_id'], references: 'Parent', referencedColumns: ['id'], nullable: false };
const edges: GraphEdge[] = [
  { name: 'Child.parent', from: 'Child', to: 'Parent', kind: 'many-to-one', property: 'parent', owner: true, foreignKey: fk, nullable: false, selfReference: false, inverse: 'Parent<-Child.parent' },
  { name: 'Parent<-Child.parent', from: 'Parent', to: 'Child', kind: 'one-to-many', owner: false, foreignKey: fk, nullable: true, selfReference: false, inverse: 'Child.parent' },
];

const test = suite('RelationGraph');

test('indexes nodes and edges by name and splits needs from dependents', () => {
  const graph = new RelationGraph([node('Parent'), node('Child')], edges);
  assert.is(graph.edge('Child.parent').to, 'Parent');
  assert.equal(graph.needs('Child').map((e) => e.name), ['Child.parent']);
  assert.equal(graph.needs('Parent'), []);
  assert.equal(graph.dependents('Parent').map((e) => e.name), ['Parent<-Child.parent']);
  assert.is(graph.nodeForTable('child')?.name, 'Child');
  assert.is(graph.nodeForTable('nope'), undefined);
});

test('unknown names fail with a code and the names that do exist', () => {
  const graph = new RelationGraph([node('Parent'), node('Child')], edges);
  assert.throws(() => graph.node('Other'), (e: { code: string; message: string }) =>
    e.code === 'GRAPH_UNKNOWN_ENTITY' && e.message === "The relation graph has no entity 'Other'. Known entities: Parent, Child.");
  assert.throws(() => graph.edge('Child.kids'), (e: { code: string; message: string }) =>
    e.code === 'GRAPH_UNKNOWN_RELATION' && e.message.endsWith('Relations of that entity: Child.parent.'));
});

test.run();
