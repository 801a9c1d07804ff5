import { EntitySyncError } from './entity-sync-error.js';

/**
 * entity-sync is not set up so that it can run: not attached to the ORM (or attached too late),
 * two copies of MikroORM loaded, or an optional package a feature needs is not installed.
 */
export class SetupError extends EntitySyncError {
  /** An entity-sync function was called on an ORM entity-sync is not attached to. */
  static notAttached(): SetupError {
    return new SetupError('EXTENSION_NOT_REGISTERED',
      'entity-sync is not attached to this ORM. Add `extensions: [EntitySync]` to its config, or call EntitySync.attach(orm).');
  }

  /** entity-sync was attached to a PGlite ORM after its first query, so it cannot reach the ORM's transactions. */
  static attachedTooLate(): SetupError {
    return new SetupError('EXTENSION_NOT_REGISTERED',
      'entity-sync was attached to this PGlite ORM after it connected, so it cannot run statements in the ORM\'s transactions. ' +
      'Add `extensions: [EntitySync]` to the ORM config, or call EntitySync.attach(orm) right after MikroORM.init, before the first query.');
  }

  /** The app's ORM comes from another copy of @mikro-orm/core than entity-sync's; `copy` is where entity-sync's is. */
  static duplicateOrmCopy(copy?: string): SetupError {
    return new SetupError('ORM_DUPLICATE_COPY',
      `Two copies of @mikro-orm/core are loaded: the app's ORM comes from one, entity-sync uses another${copy ? ` (${copy})` : ''}, ` +
      'so the entities decorated with the first are unknown to the second. Install one copy: the same @mikro-orm/core version for the app ' +
      'and entity-sync, deduplicated (npm dedupe; with pnpm an "overrides" entry), and entity-sync installed from the registry or packed ' +
      'tarballs rather than `link:`.', { info: { copy } });
  }

  /** `feature` (`The RabbitMQ transport`) needs the optional peer `packageName`, which is not installed; `cause` is the import's error. */
  static peerMissing(packageName: string, feature: string, cause?: unknown): SetupError {
    return new SetupError('PEER_MISSING', `${feature} needs the package '${packageName}', which is not installed: npm install ${packageName}`,
      { cause, info: { package: packageName, feature } });
  }
}
