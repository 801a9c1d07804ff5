import type { MikroORM, Options } from '@mikro-orm/core';

/** The database engines a contract suite runs on. */
export type BackendName = 'pglite' | 'postgres';

/** Options of `TestBackend.createOrm` and `createTestOrm`. */
export interface TestOrmOptions extends Partial<Omit<Options, 'driver' | 'dbName' | 'clientUrl' | 'schema'>> {
  /** Create the entities' tables. Default `true`. */
  createSchema?: boolean;
}

/**
 * A database engine for tests: every ORM it creates starts on an empty database of its
 * own, so a test can open a source and a target side by side.
 */
export interface TestBackend {
  /** `pglite` or `postgres`, for test titles. */
  readonly name: BackendName;
  /** Opens an ORM on a new empty database (PGlite: a new schema in the shared instance). */
  createOrm(options: TestOrmOptions): Promise<MikroORM>;
  /** Runs a multi-statement SQL script (no parameters) in the ORM's database and schema. */
  executeScript(orm: MikroORM, sql: string): Promise<void>;
  /** Releases what the backend holds (the shared PGlite instance, the cluster). */
  close(): Promise<void>;
}
