// Replica tables whose foreign keys form a cycle (a person's favourite card, a card's owner):
// a batch that holds both rows of a cycle applies when one of the keys is DEFERRABLE.
import 'reflect-metadata';
import { EntitySync, installOutbox, installReplica, OutboxRelay, ReplicaApplier } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { Master, Replica, type CqrsMessage } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { DeferMode, type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

// The type of a relation to a class declared further down stays `object`: its name would be read before it exists.
@Entity({ tableName: 'cy_person' })
@Master('cy-person')
class CyPerson {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
  @ManyToOne(() => CyCard, { nullable: true, deferMode: DeferMode.INITIALLY_IMMEDIATE }) favourite?: object;
}

@Entity({ tableName: 'cy_card' })
@Master('cy-card')
class CyCard {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => CyPerson) owner!: CyPerson;
}

@Entity({ tableName: 'cy_person_copy' })
@Replica('cy-person')
class CyPersonCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @Property() name!: string;
  @ManyToOne(() => CyCardCopy, { nullable: true, deferMode: DeferMode.INITIALLY_IMMEDIATE }) favourite?: object;
}

@Entity({ tableName: 'cy_card_copy' })
@Replica('cy-card')
class CyCardCopy {
  @PrimaryKey({ autoincrement: false }) id!: number;
  @ManyToOne(() => CyPersonCopy) owner!: CyPersonCopy;
}

const schemaOf = (orm: MikroORM) => `"${orm.config.get('schema') ?? 'public'}"`;
const texts = async (orm: MikroORM, person: string, card: string) => {
  const connection = orm.em.getConnection();
  return [
    ...(await connection.execute<{ t: string }[]>(`select row(id, name, favourite_id)::text as t from ${schemaOf(orm)}.${person} order by id`)).map((r) => r.t),
    ...(await connection.execute<{ t: string }[]>(`select row(id, owner_id)::text as t from ${schemaOf(orm)}.${card} order by id`)).map((r) => r.t),
  ];
};

for (const backend of testBackends()) {
  const test = suite(`replica tables in a foreign-key cycle [${backend.name}]`);

  test('a transaction whose rows reference each other applies in one batch', async () => {
    const master = await backend.createOrm({ entities: [CyPerson, CyCard], extensions: [EntitySync] });
    const replica = await backend.createOrm({ entities: [CyPersonCopy, CyCardCopy], extensions: [EntitySync] });
    try {
      await installOutbox(master.em.fork());
      await installReplica(replica.em.fork());
      await master.em.fork().transactional(async (tx) => {
        await tx.execute(`set local search_path to ${schemaOf(master)}`);
        await tx.execute(`insert into cy_person (id, name) values (1, 'ada'), (2, 'bob')`);
        await tx.execute(`insert into cy_card (id, owner_id) values (10, 1), (20, 2)`);
        await tx.execute(`update cy_person set favourite_id = id * 10`);
      });
      const messages: CqrsMessage[] = [];
      await new OutboxRelay(master.em.fork(), new MemoryTransport(), { onPublished: (batch) => void messages.push(...batch) }).relayPending();
      assert.is(messages.length, 4);
      assert.equal(await new ReplicaApplier(replica.em.fork()).applyMany(messages), ['apply', 'apply', 'apply', 'apply']);
      assert.equal(await texts(replica, 'cy_person_copy', 'cy_card_copy'), await texts(master, 'cy_person', 'cy_card'));
    } finally {
      await master.close();
      await replica.close();
    }
  });

  test.run();
}
