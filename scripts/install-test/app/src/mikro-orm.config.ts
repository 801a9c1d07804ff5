import { defineConfig } from '@mikro-orm/core';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { Novel, Writer } from './entities.js';
import { pgliteOptions } from './orm.js';

// The CLI's config: the embedded database in ./data that main.js created.
export default defineConfig({
  ...pgliteOptions(process.env.APP_DB_DIR ?? './data'),
  entities: [Writer, Novel],
  extensions: [EntitySync],
});
