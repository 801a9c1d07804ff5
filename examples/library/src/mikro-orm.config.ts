import { defineConfig } from '@mikro-orm/core';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { embeddedOrmOptions } from '@entity-sync/testing/mikro-orm';
import { ReflectMetadataProvider } from './entities/decorators.js';
import { libraryEntities } from './entities/index.js';

/**
 * The library app's ORM config: embedded PGlite by default (in memory, or in the directory
 * named by LIBRARY_DB_DIR), with entity-sync attached as an extension. The driver is the one of
 * the installed MikroORM major (`mikro-orm-pglite` on 6, `@mikro-orm/pglite` on 7).
 */
export default defineConfig({
  // PGlite keeps its data in this directory; without one it lives in memory.
  ...await embeddedOrmOptions({ dataDir: process.env.LIBRARY_DB_DIR }),
  // entity property types come from emitDecoratorMetadata (MikroORM 6's default; 7 needs it named)
  metadataProvider: ReflectMetadataProvider,
  entities: libraryEntities,
  extensions: [EntitySync],
});
