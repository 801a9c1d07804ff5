import { EntitySyncError } from './entity-sync-error.js';

/** An export document that cannot be read: not one, cut short, or of a version this release does not know. */
export class DocumentError extends EntitySyncError {
  static invalid(why: string, where?: string): DocumentError {
    return new DocumentError(
      'DOCUMENT_INVALID',
      `Not a valid entity-sync graph document${where ? ` (${where})` : ''}: ${why}. Export it again with entity-sync export.`,
      { info: { why, where } },
    );
  }

  static truncated(why: string): DocumentError {
    return new DocumentError(
      'DOCUMENT_TRUNCATED',
      `The graph document is incomplete: ${why}. The file was cut short; copy or export it again.`,
      { info: { why } },
    );
  }

  static unsupportedVersion(format: unknown, version: unknown, supported: number): DocumentError {
    return new DocumentError(
      'DOCUMENT_VERSION_UNSUPPORTED',
      `The document is ${JSON.stringify(format)} version ${JSON.stringify(version)}; this release reads entity-sync/graph version ${supported}. ` +
        'Upgrade entity-sync, or export the data again with this release.',
      { info: { format, version, supported } },
    );
  }
}
