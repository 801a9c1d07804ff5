import { databaseErrorFacts, describeDatabaseError } from './database-error-facts.js';
import { EntitySyncError } from './entity-sync-error.js';

/** One difference between a document's schema and the target database. */
export interface SchemaDifference {
  entity: string;
  column?: string;
  problem: string;
}

/** One row of a document that collides with a row of the target database. */
export interface ImportConflict {
  entity: string;
  /** The row's primary key in the document. */
  key: (string | null)[];
  /**
   * `primaryKey`: a row with that key exists; `naturalKey`: a row with the same natural key exists
   * under another key; `unique`: another row holds the same value of a unique column (`constraint`).
   */
  kind: 'primaryKey' | 'naturalKey' | 'unique';
  /** The unique constraint, for `unique` conflicts. */
  constraint?: string;
  /** Primary key of the existing row. */
  existingKey: (string | null)[];
  /** Columns whose values differ between the document and the existing row. */
  differingColumns: string[];
}

/** An import that cannot proceed; nothing has been written when it is thrown. */
export class ImportError extends EntitySyncError {
  static schemaMismatch(differences: SchemaDifference[]): ImportError {
    const lines = differences.map((d) => `  - ${d.entity}${d.column ? `.${d.column}` : ''}: ${d.problem}`);
    return new ImportError(
      'SCHEMA_MISMATCH',
      `The document's schema differs from the target database:\n${lines.join('\n')}\n` +
        'Migrate the target to the schema the document was exported from (or export again from a database with the target\'s schema).',
      { info: { differences } },
    );
  }

  static conflicts(conflicts: ImportConflict[]): ImportError {
    const advice = conflicts.every((c) => c.kind === 'unique')
      ? 'Another row already holds these unique values and no policy can give the imported rows other ones: ' +
        "change or remove those rows in the target, or import with onConflict 'skip' / 'overwrite' keyed on the same rows."
      : "Choose onConflict 'skip', 'overwrite' or 'remap' (CLI: --on-conflict), or matchBy 'naturalKey' for reference data.";
    // the rows that differ from the target's come first: among many identical ones they are what needs a decision
    const differing = conflicts.filter((c) => c.differingColumns.length > 0);
    const shown = [...differing, ...conflicts.filter((c) => c.differingColumns.length === 0)].slice(0, 20).map((c) =>
      `  - ${c.entity} ${JSON.stringify(c.key)}: ${c.kind === 'primaryKey' ? 'primary key exists'
        : c.kind === 'naturalKey' ? `natural key exists as ${JSON.stringify(c.existingKey)}`
          : `${c.constraint} value exists in ${JSON.stringify(c.existingKey)}`}` +
      (c.differingColumns.length ? ` (differs in ${c.differingColumns.join(', ')})` : ' (identical)'));
    const more = conflicts.length > shown.length ? `\n  ... and ${conflicts.length - shown.length} more` : '';
    return new ImportError(
      'IMPORT_CONFLICT',
      `${conflicts.length} row(s) of the document already exist in the target; nothing was imported. ` +
        `${differing.length} of them differ from the target's rows${differing.length ? ' (listed first)' : ''}:\n${shown.join('\n')}${more}\n${advice}`,
      { info: { conflicts } },
    );
  }

  static dangling(entity: string, relation: string, keys: (string | null)[][], total: number): ImportError {
    return new ImportError(
      'DANGLING_REFERENCE',
      `${total} ${entity} row(s) reference a row that is neither in the document nor in the target through ${relation}, ` +
        `e.g. ${keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}; nothing was imported. ` +
        'Export the graph again without excluding that relation, or import the missing rows first.',
      { info: { entity, relation, keys, total } },
    );
  }

  static remapUnsupported(entity: string, column: string, type: string): ImportError {
    return new ImportError(
      'REMAP_UNSUPPORTED',
      `Cannot give ${entity} rows new keys: primary-key column '${column}' (${type}) has no sequence or default and is not an integer or uuid. ` +
        "Use onConflict 'skip' or 'overwrite' for this graph, or give the column a default.",
      { info: { entity, column, type } },
    );
  }

  static rejected(cause: unknown): ImportError {
    const facts = databaseErrorFacts(cause);
    if (!facts) {
      return new ImportError('IMPORT_REJECTED', `The import failed: ${(cause as Error)?.message ?? String(cause)}. Nothing was imported.`, { cause });
    }
    const said = describeDatabaseError(facts);
    const advice = facts.code === '23505'
      ? ` Another target row holds that value under ${facts.constraint ?? 'a unique index'} (partial and expression indexes are not checked ahead): change or remove that row, or import with onConflict 'skip'.`
      : facts.code.startsWith('23') && facts.constraint ? ` The target's constraint ${facts.constraint} refuses these rows: compare it with the source's schema.`
        : facts.code.startsWith('P0') ? ' A trigger of the target raised it: check what it refuses.'
          : '';
    return new ImportError(
      'IMPORT_REJECTED',
      `The database refused the import: ${said}. Nothing was imported.${advice}`,
      { cause, info: { ...facts } },
    );
  }
}
