import 'reflect-metadata';
import { deleteGraph, EntitySync, exportGraph, importGraph } from '@entity-sync/adapters/mikro-orm';
import { testBackends } from '@entity-sync/testing';
import { type Rel } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import type { MikroORM } from '@mikro-orm/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { tableChecksums } from '../support/checksums.js';

@Entity()
class Team {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  // Team and Player reference each other: a cycle broken at this nullable key
  @ManyToOne(() => Player, { nullable: true }) captain?: Rel<Player>;
}

@Entity()
class Player {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @ManyToOne(() => Team) team!: Team;
}

@Entity()
class Document {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property() title!: string;
}

@Entity()
class Label {
  @PrimaryKey() code!: string;
  @ManyToOne(() => Document) document!: Document;
}

@Entity()
class Slot {
  @PrimaryKey() rack!: string;
  @PrimaryKey() position!: number;
  @ManyToOne(() => Label, { nullable: true }) label?: Label;
}

const entities = [Team, Player, Document, Label, Slot];

async function seed(orm: MikroORM): Promise<void> {
  const em = orm.em.fork();
  const reds = em.create(Team, { id: 1, name: 'Reds' });
  const blues = em.create(Team, { id: 2, name: 'Blues' });
  const ana = em.create(Player, { id: 1, name: 'Ana', team: reds });
  em.create(Player, { id: 2, name: 'Bo', team: reds });
  const cy = em.create(Player, { id: 3, name: 'Cy', team: blues });
  await em.flush();
  reds.captain = ana;
  blues.captain = cy;
  const doc = em.create(Document, { id: '6f1c2a52-8d1e-4b7a-9a59-1d3b7e0c4f10', title: 'Manual' });
  const label = em.create(Label, { code: 'shelf.a:1', document: doc });
  em.create(Slot, { rack: 'north', position: 3, label });
  await em.flush();
}

for (const backend of testBackends()) {
  const test = suite(`graph shapes: cycles and key types [${backend.name}]`);

  test('two tables referencing each other round-trip: the nullable side is set after insert', async () => {
    const source = await backend.createOrm({ entities, extensions: [EntitySync] });
    const target = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(source);
      const exported = await exportGraph(source.em.fork(), { entity: Team, key: 1 }, { exportedAt: null });
      assert.equal(exported.header.entities.map((e) => `${e.name}:${e.rows}`), ['Team:1', 'Player:2']);
      const report = await importGraph(target.em.fork(), exported.document!);
      assert.equal(report.entities.Team, { created: 1, updated: 0, skipped: 0, remapped: 0, reused: 0 });
      const again = await exportGraph(target.em.fork(), { entity: Team, key: 1 }, { exportedAt: null });
      assert.is(again.text, exported.text);
      const reds = await target.em.fork().findOneOrFail(Team, 1, { populate: ['captain'] });
      assert.is(reds.captain?.name, 'Ana');

      // a second copy in the source: the captain points at the copied player, not the original
      const remapped = await importGraph(source.em.fork(), exported.document!, { onConflict: 'remap' });
      const [[, newTeam]] = remapped.idMap.Team!;
      const copy = await source.em.fork().findOneOrFail(Team, Number(newTeam![0]), { populate: ['captain.team'] });
      assert.is(copy.captain?.team.id, copy.id);
      assert.is.not(copy.captain?.id, 1);
    } finally {
      await source.close();
      await target.close();
    }
  });

  test('deleting one side of a cycle clears the nullable key first', async () => {
    const orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(orm);
      const report = await deleteGraph(orm.em.fork(), { entity: Team, key: 2 });
      assert.equal(report.entities, { Team: 1, Player: 1 });
      assert.is(await orm.em.fork().count(Player), 2);
    } finally {
      await orm.close();
    }
  });

  test('roots with uuid, text-with-colons and composite keys', async () => {
    const source = await backend.createOrm({ entities, extensions: [EntitySync] });
    const target = await backend.createOrm({ entities, extensions: [EntitySync] });
    try {
      await seed(source);
      const byUuid = await exportGraph(source.em.fork(), { entity: 'Document', key: '6f1c2a52-8d1e-4b7a-9a59-1d3b7e0c4f10' });
      assert.equal(byUuid.header.entities.map((e) => `${e.name}:${e.rows}`), ['Document:1', 'Label:1', 'Slot:1']);
      const byText = await exportGraph(source.em.fork(), { entity: Label, key: 'shelf.a:1' });
      assert.equal(byText.header.roots, [{ entity: 'Label', key: ['shelf.a:1'] }]);
      const slot = await source.em.fork().findOneOrFail(Slot, { rack: 'north', position: 3 });
      const byInstance = await exportGraph(source.em.fork(), slot, { exportedAt: null });
      const byComposite = await exportGraph(source.em.fork(), { entity: Slot, key: ['north', 3] }, { exportedAt: null });
      assert.is(byInstance.text, byComposite.text);
      assert.equal(byComposite.header.entities.map((e) => e.name), ['Document', 'Label', 'Slot']);

      const before = await tableChecksums(target);
      const wrongArity = await exportGraph(source.em.fork(), { entity: Slot, key: 'north' }).catch((e) => e);
      assert.is(wrongArity.code, 'INVALID_ROOT');
      // a uuid primary key is remapped to a new uuid
      await importGraph(target.em.fork(), byUuid.document!);
      const documentOnly = await exportGraph(source.em.fork(), { entity: 'Document', key: '6f1c2a52-8d1e-4b7a-9a59-1d3b7e0c4f10' }, { excludeRelations: ['Document<-Label.document'] });
      assert.equal(documentOnly.header.entities.map((e) => e.name), ['Document']);
      const remap = await importGraph(target.em.fork(), documentOnly.document!, { onConflict: 'remap', dryRun: true });
      assert.is(remap.entities.Document!.remapped, 1);
      assert.match(remap.idMap.Document![0]![1][0]!, /^[0-9a-f-]{36}$/);
      // a text key with no sequence or default cannot be given a new value
      const textRemap = await importGraph(target.em.fork(), byText.document!, { onConflict: 'remap' }).catch((e) => e);
      assert.is(textRemap.code, 'REMAP_UNSUPPORTED');
      assert.match(textRemap.message, "Cannot give Label rows new keys: primary-key column 'code'");
      assert.is.not(await tableChecksums(target), before);
    } finally {
      await source.close();
      await target.close();
    }
  });

  test.run();
}
