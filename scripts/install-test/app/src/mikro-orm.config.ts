import { defineConfig } from '@mikro-orm/core';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { PGliteDriver } from 'mikro-orm-pglite';
import { Novel, Writer } from './entities.js';

// The CLI's config: an embedded database in ./data, created by main.js.
export default defineConfig({
  driver: PGliteDriver,
  dbName: 'app',
  driverOptions: { connection: { filename: process.env.APP_DB_DIR ?? './data' } },
  entities: [Writer, Novel],
  extensions: [EntitySync],
});
