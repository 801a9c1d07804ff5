import { EntitySyncError } from './entity-sync-error.js';
import type { SchemaDifference } from './import-error.js';

const nothingWritten = 'Nothing was written to the target.';

/** An environment sync (export of reference data, or a pull of it) that cannot go on; nothing is written when it is thrown. */
export class EnvSyncError extends EntitySyncError {
  /** An export stream that is cut short or malformed; `line` is the 1-based line that is wrong. */
  static streamInvalid(why: string, line?: number, cause?: unknown): EnvSyncError {
    return new EnvSyncError('ENV_SYNC_STREAM_INVALID',
      `Invalid environment-sync stream${line ? ` at line ${line}` : ''}: ${why}. ${nothingWritten} ` +
      'Pull again from the source and pass on the whole stream (one without its end line was cut short).',
      { info: { line, why }, cause });
  }

  /** A model that cannot travel: not a `@SyncModel`, or one without a natural key (its rows could only be matched by id). */
  static modelInvalid(model: string, why: string, fix: string): EnvSyncError {
    return new EnvSyncError('ENV_SYNC_MODEL_INVALID', `${model} cannot be synced between environments: ${why}. ${fix}`, { info: { model, why } });
  }

  /** A model without a natural key, named in the export (directly or as the target of a reference). */
  static noNaturalKey(model: string, referencedBy?: string): EnvSyncError {
    return EnvSyncError.modelInvalid(model, referencedBy ? `it has no natural key, and ${referencedBy} refers to it` : 'it has no natural key',
      `Declare one with @SyncModel({ naturalKey: [...] }) (rows are matched by it, never by id)${referencedBy ? `, or exclude ${referencedBy}` : ''}.`);
  }

  /** A model name given in `models` that is not a `@SyncModel` of this ORM. */
  static unknownModel(model: string, known: string[]): EnvSyncError {
    return EnvSyncError.modelInvalid(model, 'it is not a @SyncModel entity of this ORM', `Choose among ${known.join(', ') || '(none)'}.`);
  }

  /** The source's columns differ from the target's: the fingerprint of the header does not match. */
  static schemaMismatch(differences: SchemaDifference[]): EnvSyncError {
    const lines = differences.map((d) => `  - ${d.entity}${d.column ? `.${d.column}` : ''}: ${d.problem}`);
    return new EnvSyncError('SCHEMA_MISMATCH',
      `The source's columns differ from the target's:\n${lines.join('\n')}\n${nothingWritten} ` +
      'Migrate both environments to the same schema (or pull only the models that match, with `models`).',
      { info: { differences } });
  }

  /** A row refers to a row that is neither in the pull nor in the target. */
  static danglingReference(model: string, row: unknown[], reference: string, target: unknown[], total: number): EnvSyncError {
    return new EnvSyncError('ENV_SYNC_DANGLING_REFERENCE',
      `${model} ${JSON.stringify(row)} refers through ${reference} to ${JSON.stringify(target)}, which is neither in the pull nor in the target` +
      `${total > 1 ? ` (${total} rows of ${model} refer to missing rows)` : ''}. ${nothingWritten} ` +
      'Pull the referenced model too (add it to `models`), or create the referenced row in the target first.',
      { info: { model, row, reference, target, total } });
  }

  /** `deleteMissing` would reach rows of a model outside the pull (a cascade, a SET NULL, or a restriction that blocks it). */
  static deleteReachesOutside(model: string, rows: number, referencing: string, constraint: string, rule: string): EnvSyncError {
    return new EnvSyncError('ENV_SYNC_DELETE_REFUSED',
      `Deleting ${rows} ${model} row(s) the source lacks would reach rows of ${referencing} (constraint ${constraint}, ON DELETE ${rule}), ` +
      `which the pull does not cover. ${nothingWritten} Pull ${referencing} too, remove the rows that refer to them first, or pull without deleteMissing.`,
      { info: { model, rows, referencing, constraint, rule } });
  }

  /** A file the pull fetched does not have the content hash the export named. */
  static fileInvalid(hash: string, why: string, cause?: unknown): EnvSyncError {
    return new EnvSyncError('ENV_SYNC_FILE_INVALID', `File sha256:${hash} cannot be taken over: ${why}. ${nothingWritten}`, { info: { hash, why }, cause });
  }

  /** A client asked for models the source does not serve (`served`: those it does). */
  static modelNotServed(asked: string[], served: string[]): EnvSyncError {
    return new EnvSyncError('ENV_SYNC_MODEL_NOT_SERVED',
      `This source does not serve ${asked.join(', ')}: it serves ${served.join(', ') || 'no model'}. Pull only those (--models).`,
      { info: { asked, served } });
  }

  /** A file asked for by its content hash that the source's storage does not hold. */
  static fileNotServed(hash: string): EnvSyncError {
    return new EnvSyncError('ENV_SYNC_FILE_NOT_FOUND',
      `The source holds no file with sha256 ${hash}. Its storage lost the file after the export named it: export again, or restore the file.`,
      { info: { hash } });
  }

  /** A row the pull inserted is not in the target as inserted: a BEFORE INSERT trigger changed its primary or natural key, or skipped it. */
  static insertLost(model: string, row: unknown[], triggers: string[], total: number): EnvSyncError {
    return new EnvSyncError('ENV_SYNC_INSERT_LOST',
      `${model} ${JSON.stringify(row)} was inserted but cannot be found again by its key${total > 1 ? ` (${total} rows of ${model})` : ''}: ` +
      `a BEFORE INSERT trigger of the target (${triggers.join(', ') || 'none found'}) changed its key or skipped it. ${nothingWritten} ` +
      'Make the trigger leave the key alone, or choose a natural key the trigger does not change.',
      { info: { model, row, triggers, total } });
  }
}
