import { PgliteBackend } from './pglite-backend.js';
import { PostgresBackend } from './postgres-backend.js';
import { findPostgresBinDir } from './postgres-cluster.js';
import type { BackendName, TestBackend, TestOrmOptions } from './test-backend.js';
import type { MikroORM } from '@mikro-orm/core';

const shared = new Map<BackendName, TestBackend>();

/** The process-wide backend of that name (one PGlite instance, one PostgreSQL cluster). */
export function getBackend(name: BackendName): TestBackend {
  let backend = shared.get(name);
  if (!backend) {
    backend = name === 'pglite' ? new PgliteBackend() : new PostgresBackend();
    shared.set(name, backend);
  }
  return backend;
}

/**
 * The backends a contract suite should run on: PGlite always; real PostgreSQL when its
 * binaries are installed, and always under CI (where a missing server must fail the run,
 * not skip it). `ENTITY_SYNC_TEST_BACKENDS=pglite` narrows the list for a quick local run.
 */
export function testBackends(): TestBackend[] {
  const wanted = process.env.ENTITY_SYNC_TEST_BACKENDS?.split(',').map((name) => name.trim());
  const names: BackendName[] = ['pglite'];
  if (process.env.CI === 'true' || findPostgresBinDir()) names.push('postgres');
  else console.warn('entity-sync/testing: PostgreSQL binaries not found; contract suites run on PGlite only');
  return names.filter((name) => !wanted || wanted.includes(name)).map(getBackend);
}

/** Opens an ORM on an empty database of `backend` (default PGlite) with the entities' tables created. */
export function createTestOrm(options: TestOrmOptions & { backend?: BackendName }): Promise<MikroORM> {
  const { backend = 'pglite', ...rest } = options;
  return getBackend(backend).createOrm(rest);
}

/** Closes every shared backend: call once at the end of a test process (or let exit do it). */
export async function closeTestBackends(): Promise<void> {
  for (const backend of shared.values()) await backend.close();
  shared.clear();
}
