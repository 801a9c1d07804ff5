import 'reflect-metadata';
import {
  diffMaster, diffReplica, diffSync, dumpMaster, EntitySync, installOutbox, installReplica, loadReplica, ReplicaApplier, syncMaster,
} from '@entity-sync/adapters/mikro-orm';
import type { CqrsMessage } from '@entity-sync/core';
import { testBackends, type TestBackend } from '@entity-sync/testing';
import type { EntityManager, MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Author, AuthorRef, libraryEntities } from '../../examples/library/src/index.js';
import {
  RepairCurrency,
  RepairCurrencyCopy,
  RepairShelf,
  RepairSlot,
  RepairSlotCopy,
  RepairTicket,
  RepairTicketCopy,
  repairMasterEntities,
  repairReplicaEntities,
} from './repair-entities.js';
import {
  collect, from, gatedTransport, loseOutbox, masterRevisions, parse, recorder, rejection, replicaStates, replicate, schemaOf,
} from './repair-support.js';

// PGlite has one connection for every ORM of the process: no step below reads a stream or
// applies a message while another ORM's transaction is open (streams are collected first,
// subscribers wait behind a gate until the publishing call returned).

/** A library master (outbox installed, `count` authors written through `em`) and an AuthorRef replica (installed); both closed after `work`. */
async function withLibrary(backend: TestBackend, count: number,
  work: (master: MikroORM, replica: MikroORM, authors: Author[], em: EntityManager) => Promise<void>): Promise<void> {
  const master = await backend.createOrm({ entities: libraryEntities, extensions: [EntitySync] });
  const replica = await backend.createOrm({ entities: [AuthorRef], extensions: [EntitySync] });
  try {
    await installOutbox(master.em.fork());
    await installReplica(replica.em.fork());
    const em = master.em.fork();
    const authors = Array.from({ length: count }, (_, i) => em.create(Author, { name: `Author ${i}`, email: `a${i}@example.org` }));
    await em.flush();
    await work(master, replica, authors, em);
  } finally {
    await master.close();
    await replica.close();
  }
}

const authorView = async (em: EntityManager) =>
  (await em.find(Author, {}, { orderBy: { id: 'asc' } })).map((a) => `${a.id}:${a.name}:${a.email}`);
const authorRefView = async (em: EntityManager) =>
  (await em.find(AuthorRef, {}, { orderBy: { id: 'asc' } })).map((a) => `${a.id}:${a.name}:${a.contact}`);

/** One master/replica pair of the diff pipeline, with how to make, change and compare its rows. */
interface DiffCase {
  title: string;
  cqrsId: string;
  masterEntities: Function[];
  replicaEntities: Function[];
  prepare?(em: EntityManager): Promise<void>;
  /** Creates master row number `i` (flushed by the caller); returns its key. */
  create(em: EntityManager, i: number): unknown[];
  change(em: EntityManager, key: unknown[]): Promise<void>;
  remove(em: EntityManager, key: unknown[]): Promise<void>;
  /** Creates a replica row the master never had; returns its key. */
  createExtra(em: EntityManager): unknown[];
  /** Edits a replicated field of a replica row in place, at its revision; returns the replica property. */
  editReplica(em: EntityManager, key: unknown[]): Promise<string>;
  /** Rows the master publishes and the replica rows, in one comparable form. */
  masterView(em: EntityManager): Promise<string[]>;
  replicaView(em: EntityManager): Promise<string[]>;
}

const shelves: Record<string, number> = {};

const diffCases: DiffCase[] = [
  {
    title: 'an integer key (the library Author)',
    cqrsId: 'author',
    masterEntities: libraryEntities,
    replicaEntities: [AuthorRef],
    create(em, i) {
      const author = em.create(Author, { id: i + 1, name: `Author ${i}`, email: `a${i}@example.org` });
      return [author.id];
    },
    async change(em, [id]) {
      (await em.findOneOrFail(Author, id as number)).name = 'Renamed';
    },
    async remove(em, [id]) {
      await em.nativeDelete(Author, { id: id as number });
    },
    createExtra(em) {
      em.create(AuthorRef, { id: 9001, name: 'Only here', contact: 'x@example.org' });
      return [9001];
    },
    async editReplica(em, [id]) {
      await em.nativeUpdate(AuthorRef, { id: id as number }, { name: 'Edited on the replica' });
      return 'name';
    },
    masterView: authorView,
    replicaView: authorRefView,
  },
  {
    title: 'a uuid key',
    cqrsId: 'repair-ticket',
    masterEntities: repairMasterEntities,
    replicaEntities: repairReplicaEntities,
    create(em, i) {
      return [em.create(RepairTicket, { title: `Ticket ${i}`, priority: i, secret: `s${i}` }).id];
    },
    async change(em, [id]) {
      (await em.findOneOrFail(RepairTicket, id as string)).priority = 99;
    },
    async remove(em, [id]) {
      await em.nativeDelete(RepairTicket, { id: id as string });
    },
    createExtra(em) {
      const id = '00000000-0000-4000-8000-000000000001';
      em.create(RepairTicketCopy, { id, title: 'Only here', priority: 0 });
      return [id];
    },
    async editReplica(em, [id]) {
      await em.nativeUpdate(RepairTicketCopy, { id: id as string }, { priority: -1 });
      return 'priority';
    },
    masterView: async (em) => (await em.find(RepairTicket, {}, { orderBy: { id: 'asc' } })).map((t) => `${t.id}:${t.title}:${t.priority}`),
    replicaView: async (em) => (await em.find(RepairTicketCopy, {}, { orderBy: { id: 'asc' } })).map((t) => `${t.id}:${t.title}:${t.priority}`),
  },
  {
    title: 'a text key (shouldSync keeps internal rows back)',
    cqrsId: 'repair-currency',
    masterEntities: repairMasterEntities,
    replicaEntities: repairReplicaEntities,
    async prepare(em) {
      em.create(RepairCurrency, { code: 'XIN', name: 'Internal', internal: true });
      await em.flush();
    },
    create(em, i) {
      return [em.create(RepairCurrency, { code: `C${String(i).padStart(2, '0')}`, name: `Currency ${i}` }).code];
    },
    async change(em, [code]) {
      (await em.findOneOrFail(RepairCurrency, { code: code as string })).name = 'Renamed';
    },
    async remove(em, [code]) {
      await em.nativeDelete(RepairCurrency, { code: code as string });
    },
    createExtra(em) {
      em.create(RepairCurrencyCopy, { code: 'ZZZ', label: 'Only here' });
      return ['ZZZ'];
    },
    async editReplica(em, [code]) {
      await em.nativeUpdate(RepairCurrencyCopy, { code: code as string }, { label: 'Edited on the replica' });
      return 'label';
    },
    masterView: async (em) => (await em.find(RepairCurrency, { internal: false }, { orderBy: { code: 'asc' } })).map((c) => `${c.code}:${c.name}`),
    replicaView: async (em) => (await em.find(RepairCurrencyCopy, {}, { orderBy: { code: 'asc' } })).map((c) => `${c.code}:${c.label}`),
  },
  {
    title: 'a composite key with a foreign-key part',
    cqrsId: 'repair-slot',
    masterEntities: repairMasterEntities,
    replicaEntities: repairReplicaEntities,
    async prepare(em) {
      const a = em.create(RepairShelf, { id: 7, name: 'A' });
      const b = em.create(RepairShelf, { id: 3, name: 'B' });
      await em.flush();
      shelves.a = a.id;
      shelves.b = b.id;
    },
    create(em, i) {
      const shelf = em.getReference(RepairShelf, i % 2 ? shelves.a! : shelves.b!);
      const slot = em.create(RepairSlot, { shelf, code: `s${i}`, label: `Slot ${i}` });
      return [shelf.id, slot.code];
    },
    async change(em, [shelf, code]) {
      (await em.findOneOrFail(RepairSlot, { shelf: shelf as number, code: code as string })).label = 'Renamed';
    },
    async remove(em, [shelf, code]) {
      await em.nativeDelete(RepairSlot, { shelf: shelf as number, code: code as string });
    },
    createExtra(em) {
      em.create(RepairSlotCopy, { shelfId: 99, code: 'zz', label: 'Only here' });
      return [99, 'zz'];
    },
    async editReplica(em, [shelfId, code]) {
      await em.nativeUpdate(RepairSlotCopy, { shelfId: shelfId as number, code: code as string }, { label: 'Edited on the replica' });
      return 'label';
    },
    masterView: async (em) => (await em.find(RepairSlot, {}, { orderBy: { shelf: 'asc', code: 'asc' } })).map((s) => `${s.shelf.id}/${s.code}:${s.label}`),
    replicaView: async (em) => (await em.find(RepairSlotCopy, {}, { orderBy: { shelfId: 'asc', code: 'asc' } })).map((s) => `${s.shelfId}/${s.code}:${s.label}`),
  },
];

async function change(c: DiffCase, master: MikroORM, key: unknown[]): Promise<void> {
  const em = master.em.fork();
  await c.change(em, key);
  await em.flush();
}

const sortKeys = (keys: unknown[][]) => keys.map((key) => JSON.stringify(key)).sort();

for (const backend of testBackends()) {
  const open = async (b: TestBackend, entities: Function[]) => b.createOrm({ entities, extensions: [EntitySync] });

  const dump = suite(`CQRS dump and load [${backend.name}]`);

  dump('a dump loads into an empty replica row for row, with the master revisions (0 for rows older than the outbox)', async () => {
    const master = await open(backend, libraryEntities);
    const replica = await open(backend, [AuthorRef]);
    try {
      const em = master.em.fork();
      for (let i = 0; i < 3; i++) em.create(Author, { name: `Before ${i}`, email: `b${i}@example.org` });
      await em.flush();
      await installOutbox(master.em.fork());
      for (let i = 0; i < 4; i++) em.create(Author, { name: `After ${i}`, email: `a${i}@example.org` });
      await em.flush();
      const changed = await em.findOneOrFail(Author, { name: 'After 1' });
      changed.name = 'After 1, edited';
      await em.flush();
      changed.name = 'After 1, edited twice';
      await em.flush();

      const lines = await collect(dumpMaster(master.em.fork(), { cqrsId: 'author', batchSize: 3 }));
      const [header, ...rest] = parse(lines);
      assert.is(header!.format, 'entity-sync-cqrs-dump');
      assert.is(header!.version, 1);
      assert.is(header!.cqrsId, 'author');
      assert.ok(!Number.isNaN(Date.parse(header!.createdAt as string)));
      assert.equal(rest.at(-1), { end: true, count: 7 });
      const messages = rest.slice(0, -1) as unknown as CqrsMessage[];
      assert.ok(messages.every((m) => m.operation === 'sync' && m.cqrsId === 'author' && m.version === 1));
      const revisions = await masterRevisions(master, 'author');
      assert.equal(messages.map((m) => m.revision), messages.map((m) => revisions.get(JSON.stringify(m.key)) ?? 0));
      assert.equal(messages.map((m) => m.revision), [0, 0, 0, 1, 3, 1, 1], 'pre-outbox rows at 0, the row edited twice at 3');

      await installReplica(replica.em.fork());
      assert.equal(await loadReplica(replica.em.fork(), from(lines), { batchSize: 4 }), { applied: 7, skipped: 0 });
      const masterRows = await authorView(master.em.fork());
      assert.equal(await authorRefView(replica.em.fork()), masterRows);
      assert.equal(await replicaStates(replica, 'author'), messages.map((m) => `${JSON.stringify(m.key)}@${m.revision}`));
    } finally {
      await master.close();
      await replica.close();
    }
  });

  dump('a dump carries what the relay would publish: exclude and shouldSync apply, a filter picks rows (composite key, several pages)', async () => {
    const master = await open(backend, repairMasterEntities);
    const replica = await open(backend, repairReplicaEntities);
    try {
      await installOutbox(master.em.fork());
      const em = master.em.fork();
      em.create(RepairTicket, { title: 'T', priority: 1, secret: 'never published' });
      em.create(RepairCurrency, { code: 'EUR', name: 'Euro' });
      em.create(RepairCurrency, { code: 'XIN', name: 'Internal', internal: true });
      const a = em.create(RepairShelf, { id: 1, name: 'A' });
      const b = em.create(RepairShelf, { id: 2, name: 'B' });
      for (let i = 0; i < 5; i++) em.create(RepairSlot, { shelf: i < 3 ? a : b, code: `c${i}`, label: `L${i}` });
      await em.flush();

      const tickets = await collect(dumpMaster(master.em.fork(), { cqrsId: 'repair-ticket' }));
      const ticket = JSON.parse(tickets[1]!) as CqrsMessage;
      assert.is(ticket.state!.title, 'T');
      assert.not.ok('secret' in ticket.state!, 'excluded field is not dumped');
      assert.is(await loadReplica(replica.em.fork(), from(tickets)).then((r) => r.applied), 1);
      const copy = await replica.em.fork().findOneOrFail(RepairTicketCopy, ticket.key[0] as string);
      assert.is(copy.title, 'T');
      assert.is(copy.secret, null);

      const currencies = parse(await collect(dumpMaster(master.em.fork(), { cqrsId: 'repair-currency' })));
      assert.equal(currencies.slice(1, -1).map((m) => m.key), [['EUR']], 'the row shouldSync rejects is not dumped');
      assert.equal(currencies.at(-1), { end: true, count: 1 });

      const slots = parse(await collect(dumpMaster(master.em.fork(), { cqrsId: 'repair-slot', filter: { shelf: 1 }, batchSize: 2 })));
      assert.equal(slots.slice(1, -1).map((m) => m.key), [[1, 'c0'], [1, 'c1'], [1, 'c2']]);
      assert.equal((slots[1]!.state as Record<string, unknown>), { shelf: 1, code: 'c0', label: 'L0' });
      const picked = parse(await collect(dumpMaster(master.em.fork(), { cqrsId: 'repair-slot', filter: { code: { $in: ['c1', 'c4'] } } })));
      assert.equal(picked.slice(1, -1).map((m) => m.key), [[1, 'c1'], [2, 'c4']]);
      assert.equal(picked.at(-1), { end: true, count: 2 });

      const unknown = await rejection(collect(dumpMaster(master.em.fork(), { cqrsId: 'repair-nobody' })));
      assert.is(unknown.code, 'CQRS_UNKNOWN_ID');
    } finally {
      await master.close();
      await replica.close();
    }
  });

  dump('a truncated dump, a bad line, a wrong header or count applies nothing and throws CQRS_DUMP_INVALID', async () => {
    await withLibrary(backend, 7, async (master, replica) => {
      const lines = await collect(dumpMaster(master.em.fork(), { cqrsId: 'author' }));
      assert.is(lines.length, 9);
      // the replica already holds one row, which must survive every failed load untouched
      await loadReplica(replica.em.fork(), from([lines[0]!, lines[3]!, JSON.stringify({ end: true, count: 1 })]));
      const before = { rows: await authorRefView(replica.em.fork()), states: await replicaStates(replica, 'author') };
      assert.is(before.rows.length, 1);

      const message = JSON.parse(lines[5]!) as CqrsMessage;
      const broken: Record<string, string[]> = {
        'no end line': lines.slice(0, -1),
        'cut in the middle': lines.slice(0, 6),
        'a line that is not JSON': [...lines.slice(0, 6), lines[6]!.slice(0, 20), ...lines.slice(7)],
        'a message without a key': [...lines.slice(0, 6), JSON.stringify({ ...message, key: [] }), ...lines.slice(7)],
        'a save instead of a sync': [...lines.slice(0, 6), JSON.stringify({ ...message, operation: 'save' }), ...lines.slice(7)],
        'a message of another CQRS id': [...lines.slice(0, 6), JSON.stringify({ ...message, cqrsId: 'repair-ticket' }), ...lines.slice(7)],
        'a lost line': [...lines.slice(0, 4), ...lines.slice(5)],
        'lines after the end': [...lines, lines[2]!],
        'no header': lines.slice(1),
        'a diff header': [JSON.stringify({ format: 'entity-sync-cqrs-diff', version: 1, cqrsId: 'author', createdAt: '' }), ...lines.slice(1)],
        'a newer format version': [JSON.stringify({ ...JSON.parse(lines[0]!), version: 2 }), ...lines.slice(1)],
        'an empty input': [],
      };
      for (const [what, input] of Object.entries(broken)) {
        const error = await rejection(loadReplica(replica.em.fork(), from(input), { batchSize: 2 }));
        assert.is(error.code, 'CQRS_DUMP_INVALID', `${what}: ${error.message}`);
        assert.match(error.message, 'Nothing was loaded');
        assert.equal(await authorRefView(replica.em.fork()), before.rows, `${what}: rows unchanged`);
        assert.equal(await replicaStates(replica, 'author'), before.states, `${what}: revisions unchanged`);
      }
      const unknown = await rejection(loadReplica(replica.em.fork(), from([JSON.stringify({ ...JSON.parse(lines[0]!), cqrsId: 'repair-nobody' }), ...lines.slice(1)])));
      assert.is(unknown.code, 'CQRS_UNKNOWN_ID');
      assert.equal(await authorRefView(replica.em.fork()), before.rows);
    });
  });

  dump('a load keeps a replica row whose revision is newer than the dump\'s', async () => {
    await withLibrary(backend, 4, async (master, replica) => {
      const lines = await collect(dumpMaster(master.em.fork(), { cqrsId: 'author' }));
      const applier = new ReplicaApplier(replica.em.fork());
      const newer = { version: 1 as const, id: 'newer', cqrsId: 'author', operation: 'save' as const, key: [2], revision: 50,
        state: { id: 2, name: 'Newer on the replica', email: 'n@example.org' }, createdAt: new Date().toISOString() };
      assert.is(await applier.apply(newer), 'apply');
      assert.equal(await loadReplica(replica.em.fork(), from(lines), { batchSize: 3 }), { applied: 3, skipped: 1 });
      const rows = await authorRefView(replica.em.fork());
      assert.equal(rows, ['1:Author 0:a0@example.org', '2:Newer on the replica:n@example.org', '3:Author 2:a2@example.org', '4:Author 3:a3@example.org']);
      assert.equal(await replicaStates(replica, 'author'), ['[1]@1', '[2]@50', '[3]@1', '[4]@1']);
      // an equal revision applies (a sync repairs content): loading the same dump again rewrites the other rows
      await replica.em.fork().nativeUpdate(AuthorRef, { id: 1 }, { name: 'drifted' });
      assert.equal(await loadReplica(replica.em.fork(), from(lines)), { applied: 3, skipped: 1 });
      assert.is((await replica.em.fork().findOneOrFail(AuthorRef, 1)).name, 'Author 0');
    });
  });

  dump.run();

  const sync = suite(`CQRS syncMaster [${backend.name}]`);

  sync('publishes exactly the filtered rows, to every replica or to one queue', async () => {
    await withLibrary(backend, 6, async (master, replica, authors, em) => {
      authors[3]!.name = 'Author 3, edited';
      await em.flush();
      const applier = new ReplicaApplier(replica.em.fork());
      const gated = gatedTransport();
      const other: CqrsMessage[] = [];
      await gated.subscribe('replica-a', applier.cqrsIds, async (message) => void await applier.apply(message));
      await gated.subscribe('replica-b', ['author'], async (message) => void other.push(message));

      gated.hold();
      const chosen = [authors[1]!.id, authors[3]!.id, authors[4]!.id];
      assert.is((await syncMaster(master.em.fork(), gated, { cqrsId: 'author', filter: { id: { $in: chosen } }, batchSize: 2 })).published, 3);
      await gated.release();
      const masterRows = await authorView(master.em.fork());
      assert.equal(await authorRefView(replica.em.fork()), masterRows.filter((row) => chosen.includes(Number(row.split(':')[0]))));
      assert.equal(other.map((m) => m.key[0]), chosen, 'every replica queue received the chosen rows');
      assert.ok(other.every((m) => m.operation === 'sync'));
      assert.equal(other.map((m) => m.revision), [1, 2, 1]);
      assert.equal(await replicaStates(replica, 'author'), [`[${chosen[0]}]@1`, `[${chosen[1]}]@2`, `[${chosen[2]}]@1`]);

      gated.hold();
      assert.is((await syncMaster(master.em.fork(), gated, { cqrsId: 'author', filter: { name: 'Author 5' }, queue: 'replica-b' })).published, 1);
      await gated.release();
      assert.equal(other.slice(3).map((m) => m.key[0]), [authors[5]!.id]);
      assert.is(await replica.em.fork().count(AuthorRef), 3, 'the other queue received nothing');

      gated.hold();
      assert.is((await syncMaster(master.em.fork(), gated, { cqrsId: 'author', queue: 'replica-a', batchSize: 4 })).published, 6);
      await gated.release();
      assert.equal(await authorRefView(replica.em.fork()), masterRows);
      assert.is(other.length, 4);
    });
  });

  sync.run();

  const diff = suite(`CQRS diff master -> replica -> master [${backend.name}]`);

  for (const c of diffCases) {
    diff(`repairs missing, stale, extra and changed rows and a missed delete: ${c.title}`, async () => {
      const master = await open(backend, c.masterEntities);
      const replica = await open(backend, c.replicaEntities);
      try {
        await installOutbox(master.em.fork());
        await installReplica(replica.em.fork());
        const applier = new ReplicaApplier(replica.em.fork());
        const em = master.em.fork();
        await c.prepare?.(em);
        const keys = Array.from({ length: 8 }, (_, i) => c.create(em, i));
        await em.flush();
        await replicate(master, applier);
        assert.equal(await c.replicaView(replica.em.fork()), await c.masterView(master.em.fork()), 'in sync before the drift');

        // drift: changes the replica never receives, a replica-only row, a replica row without its
        // revision, and a replica row edited in place at its current revision
        const missing = [c.create(em, 8), c.create(em, 9)];
        await em.flush();
        await change(c, master, keys[1]!);
        await c.remove(master.em.fork(), keys[2]!);
        await loseOutbox(master);
        const rem = replica.em.fork();
        const extra = c.createExtra(rem);
        await rem.flush();
        await replica.em.getConnection().execute(`delete from ${schemaOf(replica)}.entity_sync_replica_state where cqrs_id = ? and key = ?::jsonb`,
          [c.cqrsId, JSON.stringify(keys[5])]);
        const edited = await c.editReplica(replica.em.fork(), keys[3]!);
        assert.not.equal(await c.replicaView(replica.em.fork()), await c.masterView(master.em.fork()));

        const masterLines = await collect(diffMaster(master.em.fork(), { cqrsId: c.cqrsId, batchSize: 3 }));
        const listed = parse(masterLines);
        assert.is(listed[0]!.format, 'entity-sync-cqrs-diff');
        assert.is(listed[0]!.cqrsId, c.cqrsId);
        assert.equal(listed.at(-1), { end: true, count: 9 });
        const listedKeys = listed.slice(1, -1).map((line) => JSON.stringify(line.key));
        assert.equal([...listedKeys].sort(), sortKeys([...keys.filter((_, i) => i !== 2), ...missing]), 'every published master row once');
        const revisions = await masterRevisions(master, c.cqrsId);
        assert.ok(listed.slice(1, -1).every((line) => line.revision === revisions.get(JSON.stringify(line.key))));

        const report = await collect(diffReplica(replica.em.fork(), from(masterLines), { batchSize: 2 }));
        assert.is(report[0], masterLines[0], 'the header passes through');
        const found = parse(report.slice(1, -1));
        const of = (kind: string) => found.filter((line) => line.kind === kind);
        assert.equal(of('missing').map((line) => JSON.stringify(line.key)).sort(), sortKeys(missing));
        assert.ok(of('missing').every((line) => line.revision === null));
        assert.equal(of('stale').map((line) => [JSON.stringify(line.key), line.revision]).sort(),
          [[JSON.stringify(keys[1]), 1], [JSON.stringify(keys[5]), null]].sort());
        assert.equal(of('extra').map((line) => [JSON.stringify(line.key), line.revision]).sort(),
          [[JSON.stringify(keys[2]), 1], [JSON.stringify(extra), null]].sort());
        assert.equal(of('changed'), [{ kind: 'changed', key: keys[3], revision: 1, fields: [edited] }], 'the row edited in place, with the field');
        assert.equal(parse(report).at(-1), { end: true, missing: 2, stale: 2, extra: 2, changed: 1 });

        const gated = gatedTransport();
        await gated.subscribe('replica', applier.cqrsIds, async (message) => void await applier.apply(message));
        gated.hold();
        assert.equal(await diffSync(master.em.fork(), gated, from(report), { batchSize: 4 }), { republished: 5, deleted: 2 });
        await gated.release();
        assert.equal(await gated.memory.deadLetters(), []);

        assert.equal(await c.replicaView(replica.em.fork()), await c.masterView(master.em.fork()), 'the replica equals the master');
        const states = await replicaStates(replica, c.cqrsId);
        assert.ok(states.includes(`${JSON.stringify(keys[2])}@2 deleted`), 'the missed delete left a tombstone at the master\'s revision');
        assert.ok(states.includes(`${JSON.stringify(extra)}@0 deleted`));
        assert.ok(states.includes(`${JSON.stringify(keys[1])}@2`));
        assert.ok(states.includes(`${JSON.stringify(keys[3])}@1`), 'the changed row was rewritten at its equal revision');

        const again = await collect(diffReplica(replica.em.fork(), from(await collect(diffMaster(master.em.fork(), { cqrsId: c.cqrsId })))));
        assert.is(again.length, 2, `nothing left to repair: ${again.join('\n')}`);
        assert.equal(JSON.parse(again[1]!), { end: true, missing: 0, stale: 0, extra: 0, changed: 0 });

        // the repaired row keeps replicating: its next change is newer than what diffSync sent
        await change(c, master, keys[5]!);
        await replicate(master, applier);
        assert.equal(await c.replicaView(replica.em.fork()), await c.masterView(master.em.fork()));
      } finally {
        await master.close();
        await replica.close();
      }
    });
  }

  diff('a report of more rows than a page lists every difference once, in key order', async () => {
    await withLibrary(backend, 25, async (master, replica, authors) => {
      const report = parse(await collect(diffReplica(replica.em.fork(), from(await collect(diffMaster(master.em.fork(), { cqrsId: 'author' }))), { batchSize: 4 })));
      assert.equal(report.slice(1, -1).map((line) => line.key), authors.map((author) => [author.id]));
      assert.equal(report.at(-1), { end: true, missing: 25, stale: 0, extra: 0, changed: 0 });
    });
  });

  diff('diff streams are checked: truncated or mismatched streams and unknown CQRS ids are refused, and nothing is published', async () => {
    await withLibrary(backend, 3, async (master, replica) => {
      const masterLines = await collect(diffMaster(master.em.fork(), { cqrsId: 'author' }));
      const report = await collect(diffReplica(replica.em.fork(), from(masterLines)));
      assert.is(report.length, 5, 'three missing rows');

      const code = async (promise: Promise<unknown>) => (await rejection(promise)).code;
      assert.is(await code(collect(diffReplica(replica.em.fork(), from(masterLines.slice(0, -1))))), 'CQRS_DUMP_INVALID');
      assert.is(await code(collect(diffReplica(replica.em.fork(), from([masterLines[0]!, masterLines[1]!, masterLines[1]!, masterLines[2]!, JSON.stringify({ end: true, count: 3 })])))),
        'CQRS_DUMP_INVALID', 'a key listed twice');
      assert.is(await code(collect(diffReplica(replica.em.fork(), from(report)))), 'CQRS_DUMP_INVALID', 'a report is not a master listing');
      assert.is(await code(collect(diffReplica(replica.em.fork(), from([masterLines[0]!, '{"key":[1,2],"revision":1}', '{"end":true,"count":1}'])))),
        'CQRS_DUMP_INVALID', 'a key of the wrong length');
      assert.is(await code(collect(diffReplica(replica.em.fork(), from([JSON.stringify({ ...JSON.parse(masterLines[0]!), cqrsId: 'repair-ticket' }), ...masterLines.slice(1)])))),
        'CQRS_UNKNOWN_ID');
      assert.is(await code(collect(diffMaster(master.em.fork(), { cqrsId: 'repair-nobody' }))), 'CQRS_UNKNOWN_ID');

      const transport = recorder();
      for (const input of [report.slice(0, -1), report.slice(0, 3), [...report.slice(0, 2), ...report.slice(3)], masterLines, [report[0]!, '{"kind":"gone","key":[1],"revision":null}', report.at(-1)!]]) {
        assert.is(await code(diffSync(master.em.fork(), transport, from(input))), 'CQRS_DUMP_INVALID');
      }
      assert.is(await code(diffSync(master.em.fork(), transport, from([JSON.stringify({ ...JSON.parse(report[0]!), cqrsId: 'repair-nobody' }), ...report.slice(1)]))),
        'CQRS_UNKNOWN_ID');

      // versions: 1 lists revisions only, 2 adds the state; a stream that mixes them is refused
      const revisionsOnly = await collect(diffMaster(master.em.fork(), { cqrsId: 'author', content: false }));
      assert.is(JSON.parse(revisionsOnly[0]!).version, 1);
      assert.is(JSON.parse(masterLines[0]!).version, 2);
      assert.not.ok('state' in JSON.parse(revisionsOnly[1]!));
      assert.ok('state' in JSON.parse(masterLines[1]!));
      const refused = async (promise: Promise<unknown>, message: string | RegExp) => {
        const error = await rejection(promise);
        assert.is(error.code, 'CQRS_DUMP_INVALID', error.message);
        assert.match(error.message, message);
      };
      await refused(collect(diffReplica(replica.em.fork(), from([masterLines[0]!, ...revisionsOnly.slice(1)]))), 'a line without a state in a version 2 stream');
      await refused(collect(diffReplica(replica.em.fork(), from([revisionsOnly[0]!, ...masterLines.slice(1)]))), 'a line with a state in a version 1 stream');
      await refused(collect(diffReplica(replica.em.fork(), from([JSON.stringify({ ...JSON.parse(masterLines[0]!), version: 3 }), ...masterLines.slice(1)]))),
        'format version 3 is not understood (this release reads 1 and 2)');
      const oldReport = await collect(diffReplica(replica.em.fork(), from(revisionsOnly)));
      assert.is(oldReport[0], revisionsOnly[0]);
      assert.equal(JSON.parse(oldReport.at(-1)!), { end: true, missing: 3, stale: 0, extra: 0 }, 'a version 1 report counts no changed rows');
      const changedLine = JSON.stringify({ kind: 'changed', key: [1], revision: 1, fields: ['name'] });
      await refused(diffSync(master.em.fork(), transport, from([oldReport[0]!, changedLine, JSON.stringify({ end: true, missing: 0, stale: 0, extra: 0 })])),
        'kind "changed" is not missing, stale or extra (a version 1 report has none');
      await refused(diffSync(master.em.fork(), transport, from([report[0]!, changedLine, JSON.stringify({ end: true, missing: 0, stale: 0, extra: 0 })])),
        'the end line counts undefined changed rows, the stream has 1');
      assert.equal(transport.sent, [], 'nothing was published for a refused stream');
      assert.equal(await diffSync(master.em.fork(), transport, from(oldReport)), { republished: 3, deleted: 0 }, 'a version 1 report still repairs');
      transport.sent.length = 0;
      assert.equal(await diffSync(master.em.fork(), transport, from(report)), { republished: 3, deleted: 0 });
      assert.is(transport.sent.length, 3);

      // stopping early rolls the listing's transaction back and leaves the ORM usable
      for await (const line of diffMaster(master.em.fork(), { cqrsId: 'author' })) if (line) break;
      assert.is(await master.em.fork().count(Author), 3);
    });
  });

  diff.run();
}
