// Reconciles roster.csv against the students table of an embedded database: a dry run first
// (the report of what would change), then the real run, then a second run that finds nothing.
//   pnpm --filter @entity-sync/example-roster reconcile
import { describeReconcile } from '@entity-sync/core';
import { embeddedOrmOptions, ReflectMetadataProvider, createSchema } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { fileURLToPath } from 'node:url';
import { rosterEntities } from './entities.js';
import { reconcileRoster } from './reconcile-roster.js';
import { seedStudents } from './seed.js';

const roster = fileURLToPath(new URL('../roster.csv', import.meta.url));
const orm = await MikroORM.init({ ...await embeddedOrmOptions({}), metadataProvider: ReflectMetadataProvider, entities: rosterEntities, extensions: [EntitySync] });
try {
  await createSchema(orm);
  await seedStudents(orm);
  console.log(describeReconcile(await reconcileRoster(orm, roster, { dryRun: true })));
  console.log();
  console.log(describeReconcile(await reconcileRoster(orm, roster)));
  console.log();
  console.log(describeReconcile(await reconcileRoster(orm, roster)));
} finally {
  await orm.close();
}
