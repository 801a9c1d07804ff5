import { EntitySync } from '@entity-sync/adapters/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { CopyText, Language } from './entities/index.js';
import config from './mikro-orm.config.js';
import { seedLibrary } from './seed.js';

/** Runs the library demo on an in-memory PGlite database and reports each step through `log`. */
export async function runDemo(log: (line: string) => void = console.log): Promise<void> {
  const started = Date.now();
  const orm = await MikroORM.init({ ...config, driverOptions: {} });
  try {
    await orm.schema.createSchema();
    const sync = EntitySync.of(orm);
    const { graph } = sync;
    log(`entity-sync demo: library app on embedded PGlite (no server)`);
    log(`relation graph: ${graph.nodes.size} entities, ${graph.edges.length} edges (every foreign key in both directions)`);
    const names = [...graph.nodes.keys()].sort();
    for (const node of names.map((name) => graph.node(name))) {
      const needs = graph.needs(node.name).map((edge) => `${edge.property}->${edge.to}`);
      const dependents = graph.dependents(node.name).map((edge) => edge.name);
      log(`  ${node.name} (table ${node.table}${node.pivot ? ', pivot' : ''}; key ${node.primaryKey.join(', ')})` +
        `${needs.length ? `; needs ${needs.join(', ')}` : ''}${dependents.length ? `; referenced by ${dependents.join(', ')}` : ''}`);
    }
    const undeclared = graph.edges.filter((edge) => !edge.owner && edge.property === undefined && !graph.node(edge.to).pivot);
    log(`inverse relations found though the entity declares no collection: ${undeclared.map((edge) => edge.name).join(', ')}`);

    for (const name of names) {
      const roles = sync.registryEntry(name);
      if (roles?.syncModel?.naturalKey) log(`natural key of ${name}: ${sync.naturalKeyPaths(name).join(' + ')}`);
      if (roles?.master) log(`${name} is the CQRS master of '${roles.master.cqrsId}'`);
    }

    const seeded = await seedLibrary(orm.em.fork());
    log(`seeded ${seeded.books.length} books by ${seeded.authors.length} authors, ${Object.keys(seeded.languages).length} languages in ${Object.keys(seeded.countries).length} countries`);

    const em = orm.em.fork();
    const greeting = await sync.findByNaturalKey<CopyText>(CopyText, { 'language.country.code': 'CA', 'language.code': 'fr', key: 'greeting' }, { em });
    log(`findByNaturalKey(CopyText, CA / fr / greeting) -> "${greeting?.text}"`);
    const language = await em.findOneOrFail(Language, { name: 'English' });
    log(`naturalKeyOf(Language "${language.name}") -> ${JSON.stringify(await sync.naturalKeyOf(language))}`);
    log(`done in ${Date.now() - started} ms`);
  } finally {
    await orm.close();
  }
}
