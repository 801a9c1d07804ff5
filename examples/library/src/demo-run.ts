import { createHttpHandler, staticTokenAuth } from '@entity-sync/adapters/http';
import { toNodeListener } from '@entity-sync/adapters/http/node';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import {
  deleteGraph, EntitySync, envSyncRoutes, exportGraph, importGraph, installOutbox, installReplica, OutboxRelay, pullFrom, ReplicaApplier,
} from '@entity-sync/adapters/mikro-orm';
import type { PullReport } from '@entity-sync/core';
import { PGlite } from '@electric-sql/pglite';
import { createSchema, embeddedOrmOptions } from '@entity-sync/testing/mikro-orm';
import { MikroORM } from '@mikro-orm/core';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Author, AuthorRef, Book, CopyText, Country, Language, replicaEntities, Tag } from './entities/index.js';
import config from './mikro-orm.config.js';
import { syncClientOverHttp } from './push-pull-demo.js';
import { seedLibrary } from './seed.js';

const counts = (entities: Record<string, number | { created: number; reused: number; remapped: number }>) =>
  Object.entries(entities).map(([name, n]) => (typeof n === 'number' ? `${name} ${n}`
    : `${name} ${[n.created && `${n.created} new`, n.reused && `${n.reused} reused`, n.remapped && `${n.remapped} remapped`].filter(Boolean).join('/') || '-'}`)).join(', ');

const pulled = (report: PullReport) => report.models.map((m) => `${m.model} ${[m.created && `${m.created} new`, m.updated && `${m.updated} updated`,
  m.unchanged && `${m.unchanged} unchanged`].filter(Boolean).join('/') || '-'}`).join(', ');

/**
 * Environment sync between two installations: a second embedded database pulls the @SyncModel
 * rows of `orm`'s over HTTP (a server on 127.0.0.1 in this process), twice.
 */
async function pullReferenceDataOverHttp(orm: MikroORM, log: (line: string) => void): Promise<void> {
  const token = randomBytes(24).toString('hex');
  const handler = createHttpHandler({ prefix: '/sync', auth: staticTokenAuth({ token }), routes: envSyncRoutes(orm) });
  const server = createServer(toNodeListener(handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sync`;
  const other = await PGlite.create();
  const target = await MikroORM.init({ ...config, ...await embeddedOrmOptions({ pglite: other }) });
  try {
    await createSchema(target);
    const first = await pullFrom(target.em.fork(), url, { token });
    log(`pullFrom(${url}) into a second embedded database, by natural key: ${pulled(first)}`);
    const second = await pullFrom(target.em.fork(), url, { token });
    const written = second.models.reduce((sum, m) => sum + m.created + m.updated + m.deleted, 0);
    log(`  pulled again: ${written} rows written, ${second.models.reduce((sum, m) => sum + m.unchanged, 0)} unchanged`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await target.close();
    await other.close();
  }
}

/** Runs the library demo on an in-memory PGlite database and reports each step through `log`. */
export async function runDemo(log: (line: string) => void = console.log): Promise<void> {
  const started = Date.now();
  // One in-memory PGlite holds both sides: the app's schema and a 'staging' schema standing in for another database.
  const pglite = await PGlite.create();
  await pglite.exec('CREATE SCHEMA staging; CREATE SCHEMA replica');
  const shared = await embeddedOrmOptions({ pglite });
  const orm = await MikroORM.init({ ...config, ...shared });
  const staging = await MikroORM.init({ ...config, ...shared, schema: 'staging' });
  const replica = await MikroORM.init({ ...config, ...shared, schema: 'replica', entities: replicaEntities });
  const dir = mkdtempSync(join(tmpdir(), 'entity-sync-demo-'));
  try {
    await createSchema(orm);
    await createSchema(staging);
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

    // 1. export an author's graph: the author, what it owns (profile, books, tag links) and what those need
    const hugo = await em.findOneOrFail(Author, { name: 'Victor Hugo' });
    const file = join(dir, 'hugo.json');
    const exported = await exportGraph(orm.em.fork(), hugo, { to: file });
    log(`exportGraph(Author "${hugo.name}") -> ${exported.rows} rows in ${exported.statements} statements: ${counts(Object.fromEntries(exported.header.entities.map((e) => [e.name, e.rows])))}`);

    // 2. import it into another database that already has the reference data under other ids
    const sem = staging.em.fork();
    sem.create(Tag, { name: 'poetry' });
    sem.create(Country, { code: 'GB', name: 'United Kingdom' });
    const france = sem.create(Country, { code: 'FR', name: 'France' });
    sem.create(Language, { country: france, code: 'fr', name: 'Français' });
    await sem.flush();
    const dry = await importGraph(staging.em.fork(), file, { onConflict: 'remap', matchBy: 'naturalKey', dryRun: true });
    const imported = await importGraph(staging.em.fork(), file, { onConflict: 'remap', matchBy: 'naturalKey' });
    log(`importGraph into a second database (schema 'staging'; remap, match by natural key; the dry run reported the same): ${counts(imported.entities)}`);
    if (JSON.stringify(dry.entities) !== JSON.stringify(imported.entities)) throw new Error('dry run and import differ');
    const copied = await staging.em.fork().findOneOrFail(Book, { title: 'Les Misérables' }, { populate: ['language.country', 'tags'] });
    log(`  there, "${copied.title}" has id ${copied.id}, language ${copied.language?.code}-${copied.language?.country.code} (reused) and tags ${copied.tags.getItems().map((t) => t.name).sort().join(', ')}`);

    // 3. delete the author's graph with an archive first, then restore it from the archive
    const plan = await deleteGraph(orm.em.fork(), hugo, { dryRun: true });
    log(`deleteGraph plan: ${counts(plan.entities)}`);
    for (const effect of plan.outside) log(`  note: ${effect.rows} ${effect.entity} row(s) also belong to ${effect.outside.map((o) => `${o.rows} ${o.entity}`).join(', ')} outside the graph`);
    await deleteGraph(orm.em.fork(), hugo, { archiveTo: join(dir, 'hugo-archive.json') });
    const remaining = await orm.em.fork().count(Book);
    await importGraph(orm.em.fork(), join(dir, 'hugo-archive.json'));
    log(`deleted with an archive (${remaining} book left), restored from it: ${await orm.em.fork().count(Book)} books again`);

    // 4. CQRS: Author is the master of 'author'; a replica service keeps AuthorRef rows
    await createSchema(replica);
    await installOutbox(orm.em.fork());
    await installReplica(replica.em.fork());
    const applier = new ReplicaApplier(replica.em.fork());
    const transport = new MemoryTransport({ faults: { duplicate: true, reverse: true } });
    await transport.subscribe('library-replica', applier.cqrsIds, async (message) => void await applier.apply(message));
    const writes = orm.em.fork();
    writes.create(Author, { name: 'Mary Shelley', email: 'shelley@example.org' });
    const austen = await writes.findOneOrFail(Author, { name: 'Jane Austen' });
    austen.name = 'Jane Austen (1775-1817)';
    await writes.flush();
    await orm.em.fork().nativeUpdate(Author, { name: 'Victor Hugo' }, { email: 'victor.hugo@example.org' });
    const { relayed } = await new OutboxRelay(orm.em.fork(), transport).relayPending();
    await transport.drain();
    const copies = await replica.em.fork().find(AuthorRef, {}, { orderBy: { id: 'asc' } });
    log(`CQRS: ${relayed} outbox entries relayed (delivered twice and in reverse order on purpose); the replica holds ` +
      copies.map((copy) => `${copy.name} <${copy.contact}>`).join(', '));

    // 5. environment sync: another installation pulls the reference data over HTTP
    await pullReferenceDataOverHttp(orm, log);

    // 6. push/pull: a client app syncs the tags with the sync API, with its role's permissions
    await syncClientOverHttp(orm, log);
    log(`done in ${Date.now() - started} ms`);
  } finally {
    await orm.close();
    await staging.close();
    await replica.close();
    await pglite.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
