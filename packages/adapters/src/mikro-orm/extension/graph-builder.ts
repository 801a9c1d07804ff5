import { GraphError, RelationGraph, type GraphColumn, type GraphEdge, type GraphNode } from '@entity-sync/core';
import type { EntityInfo, PropertyInfo } from './compat.js';

function isColumn(prop: PropertyInfo): boolean {
  if (!prop.persist || prop.fieldNames.length === 0) return false;
  if (prop.kind === 'scalar') return true;
  if (prop.kind === 'embedded') return prop.embeddedAsObject;
  return (prop.kind === 'm:1' || prop.kind === '1:1') && prop.owner;
}

function columnsOf(entity: EntityInfo): GraphColumn[] {
  return entity.props.filter(isColumn).flatMap((prop) =>
    prop.fieldNames.map((name, i) => ({
      name,
      property: prop.embeddedPath ? prop.embeddedPath.join('.') : prop.name,
      type: prop.columnTypes[i] ?? prop.columnTypes[0] ?? 'unknown',
      nullable: prop.nullable && !prop.primary,
      primary: prop.primary,
      autoincrement: prop.autoincrement,
    })),
  );
}

function nodeOf(entity: EntityInfo): GraphNode {
  for (const prop of entity.props) {
    if (prop.embeddedPath && prop.kind !== 'scalar') {
      throw GraphError.unsupportedMapping(entity.className, prop.embeddedPath.join('.'),
        'a relation inside an embeddable is not supported; move the relation onto the entity itself');
    }
  }
  const byName = new Map(entity.props.map((prop) => [prop.name, prop]));
  return {
    name: entity.className,
    table: entity.tableName,
    schema: entity.schema,
    primaryKey: entity.primaryKeys.flatMap((key) => byName.get(key)?.fieldNames ?? [key]),
    primaryKeyProperties: [...entity.primaryKeys],
    columns: columnsOf(entity),
    pivot: entity.pivot,
    inheritance: entity.inheritance && entity.inheritance.root !== entity.className ? entity.inheritance : undefined,
  };
}

// In single-table inheritance the root's metadata carries every subclass property, so the
// relations of the whole hierarchy are read from the root and its subclasses add none.
function ownsItsRelations(entity: EntityInfo): boolean {
  return !entity.inheritance || entity.inheritance.root === entity.className;
}

/** Builds the relation graph of every entity that has a table. */
export function buildRelationGraph(entities: EntityInfo[]): RelationGraph {
  const withTable = entities.filter((entity) => entity.hasTable);
  const byName = new Map(withTable.map((entity) => [entity.className, entity]));
  const nodes = withTable.map(nodeOf);
  const edges: GraphEdge[] = [];

  const declaredInverse = (target: EntityInfo, prop: PropertyInfo, owner: EntityInfo): PropertyInfo | undefined =>
    target.props.find((candidate) => !candidate.synthetic && (
      candidate.name === prop.inversedBy ||
      (candidate.mappedBy === prop.name && candidate.target === owner.className && !candidate.owner)));

  for (const entity of withTable.filter(ownsItsRelations)) {
    for (const prop of entity.props) {
      const toOne = (prop.kind === 'm:1' || prop.kind === '1:1') && prop.owner;
      const manyToMany = prop.kind === 'm:n' && prop.owner;
      if (!toOne && !manyToMany) continue;
      if (prop.embeddedPath) continue;
      const target = byName.get(prop.target ?? '');
      if (!target) {
        throw GraphError.unsupportedMapping(entity.className, prop.name,
          `it points at '${prop.target}', which has no table of its own; point it at a concrete entity`);
      }
      const inverseProp = declaredInverse(target, prop, entity);
      const name = `${entity.className}.${prop.name}`;
      const inverseName = inverseProp ? `${target.className}.${inverseProp.name}` : `${target.className}<-${name}`;
      const selfReference = target.className === entity.className;

      if (toOne) {
        const foreignKey = {
          owner: entity.className,
          columns: [...prop.fieldNames],
          references: target.className,
          referencedColumns: [...prop.referencedColumnNames],
          nullable: prop.nullable && !prop.primary,
        };
        edges.push({
          name, from: entity.className, to: target.className, property: prop.name,
          kind: prop.kind === 'm:1' ? 'many-to-one' : 'one-to-one', owner: true,
          foreignKey, nullable: foreignKey.nullable, selfReference, inverse: inverseName,
        });
        edges.push({
          name: inverseName, from: target.className, to: entity.className, property: inverseProp?.name,
          kind: prop.kind === 'm:1' ? 'one-to-many' : 'one-to-one', owner: false,
          foreignKey, nullable: true, selfReference, inverse: name,
        });
        continue;
      }

      const pivotEntity = byName.get(prop.pivotEntity ?? '');
      if (!pivotEntity) {
        throw GraphError.unsupportedMapping(entity.className, prop.name, `its pivot entity '${prop.pivotEntity}' was not discovered`);
      }
      const pivot = { entity: pivotEntity.className, table: pivotEntity.tableName };
      edges.push({
        name, from: entity.className, to: target.className, property: prop.name, kind: 'many-to-many', owner: true,
        pivot: { ...pivot, fromColumns: [...prop.joinColumns], toColumns: [...prop.inverseJoinColumns] },
        nullable: true, selfReference, inverse: inverseName,
      });
      edges.push({
        name: inverseName, from: target.className, to: entity.className, property: inverseProp?.name, kind: 'many-to-many', owner: false,
        pivot: { ...pivot, fromColumns: [...prop.inverseJoinColumns], toColumns: [...prop.joinColumns] },
        nullable: true, selfReference, inverse: name,
      });
    }
  }
  return new RelationGraph(nodes, edges);
}
