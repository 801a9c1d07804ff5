// `@entity-sync/testing/mikro-orm`: what differs between MikroORM 6 and 7, for entities and test
// code that run on both majors: the decorators and their metadata provider, schema creation, and
// the embedded PGlite driver's options.
export * from './decorators.js';
export { connectionTimeoutOptions, createSchema, embeddedOrmOptions, mikroOrmMajor, type EmbeddedDatabase } from './mikro-orm-version.js';
