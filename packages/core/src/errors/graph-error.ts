import { EntitySyncError } from './entity-sync-error.js';

/** A mapping the relation graph cannot represent, or a lookup of something the graph does not hold. */
export class GraphError extends EntitySyncError {
  static unsupportedMapping(entity: string, property: string, why: string): GraphError {
    return new GraphError(
      'MAPPING_UNSUPPORTED',
      `${entity}.${property}: ${why}.`,
      { details: { entity, property } },
    );
  }

  static unknownEntity(entity: string, known: string[]): GraphError {
    return new GraphError(
      'GRAPH_UNKNOWN_ENTITY',
      `The relation graph has no entity '${entity}'. Known entities: ${known.join(', ')}.`,
      { details: { entity } },
    );
  }

  static unknownRelation(relation: string, known: string[]): GraphError {
    return new GraphError(
      'GRAPH_UNKNOWN_RELATION',
      `The relation graph has no relation '${relation}'. Relations of that entity: ${known.join(', ') || '(none)'}.`,
      { details: { relation } },
    );
  }
}
