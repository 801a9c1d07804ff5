import { defineConfig } from '@mikro-orm/core';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { PGliteDriver } from 'mikro-orm-pglite';
import { libraryEntities } from './entities/index.js';

/**
 * The library app's ORM config: embedded PGlite by default (in memory, or in the directory
 * named by LIBRARY_DB_DIR), with entity-sync attached as an extension.
 */
export default defineConfig({
  driver: PGliteDriver,
  dbName: 'library',
  // PGlite keeps its data in this directory; without one it lives in memory.
  driverOptions: process.env.LIBRARY_DB_DIR ? { connection: { filename: process.env.LIBRARY_DB_DIR } } : {},
  entities: libraryEntities,
  extensions: [EntitySync],
});
