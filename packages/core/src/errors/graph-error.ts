import { databaseErrorFacts, describeDatabaseError } from './database-error-facts.js';
import { EntitySyncError } from './entity-sync-error.js';

/** A mapping the relation graph cannot represent, or a lookup of something the graph does not hold. */
export class GraphError extends EntitySyncError {
  static unsupportedMapping(entity: string, property: string, why: string): GraphError {
    return new GraphError(
      'MAPPING_UNSUPPORTED',
      `${entity}.${property}: ${why}.`,
      { info: { entity, property } },
    );
  }

  static unknownEntity(entity: string, known: string[]): GraphError {
    return new GraphError(
      'GRAPH_UNKNOWN_ENTITY',
      `The relation graph has no entity '${entity}'. Known entities: ${known.join(', ')}.`,
      { info: { entity } },
    );
  }

  static unknownRelation(relation: string, known: string[]): GraphError {
    return new GraphError(
      'GRAPH_UNKNOWN_RELATION',
      `The relation graph has no relation '${relation}'. Relations of that entity: ${known.join(', ') || '(none)'}.`,
      { info: { relation } },
    );
  }

  static tooLarge(maxRows: number, rows: number, relation: string, added: number): GraphError {
    return new GraphError(
      'GRAPH_TOO_LARGE',
      `The graph passed maxRows (${maxRows}): ${rows} rows so far, ${added} of them through ${relation}. ` +
        `Exclude that relation (excludeRelations: ['${relation}'], CLI --exclude-relation), lower maxDepth, or raise maxRows.`,
      { info: { maxRows, rows, relation, added } },
    );
  }

  static rootNotFound(entity: string, keys: unknown[]): GraphError {
    return new GraphError(
      'ROOT_NOT_FOUND',
      `No ${entity} row has the primary key ${keys.map((key) => JSON.stringify(key)).join(', ')}. Check the key (Entity:pk) and the database.`,
      { info: { entity, keys } },
    );
  }

  static invalidRoot(root: string, why: string): GraphError {
    return new GraphError(
      'INVALID_ROOT',
      `Invalid root ${JSON.stringify(root)}: ${why}. Write roots as Entity:pk, e.g. Author:1, Tag:"a:b", Shelf:["W1","north",3].`,
      { info: { root, why } },
    );
  }

  /** `advice`: what the caller can change (a relation to exclude or map, a trigger that refused). */
  static deleteRejected(cause: unknown, advice: string): GraphError {
    const facts = databaseErrorFacts(cause);
    const said = facts ? describeDatabaseError(facts) : (cause as Error)?.message ?? String(cause);
    return new GraphError(
      'DELETE_REJECTED',
      `The database refused the delete: ${said}. Nothing was deleted. ${advice}`.trimEnd(),
      { cause, info: { ...facts } },
    );
  }

  /** A relation the graph knows that no foreign key backs, so a walk cannot follow it. */
  static relationWithoutForeignKey(relation: string): GraphError {
    return new GraphError('GRAPH_UNKNOWN_RELATION', `Relation '${relation}' has no foreign key to walk.`, { info: { relation } });
  }
}
