// What a master publishes: serializers (a function that embeds related entities, a
// class-transformer class), shouldSync on the entity as committed, include/exclude, produce: false.
import 'reflect-metadata';
import { EntitySync, installOutbox, OutboxRelay, setCorrelationId } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { Master, type CqrsMessage } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { type EntityManager, type MikroORM } from '@mikro-orm/core';
import { Entity, ManyToOne, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { Exclude, Expose, Transform } from 'class-transformer';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'opt_member' })
@Master('opt-member', { exclude: ['secret'] })
class OptMember {
  @PrimaryKey() id!: number;
  @Property() name!: string;
  @Property() secret!: string;
  @Property() active: boolean = true;
}

@Entity({ tableName: 'opt_loan' })
@Master('opt-loan', {
  shouldSync: (loan: OptLoan) => loan instanceof OptLoan && loan.title !== 'private',
  serializer: async (loan: OptLoan, { em }: { em: EntityManager }) => {
    await em.populate(loan, ['member']);
    return { id: loan.id, title: loan.title, member: { id: loan.member.id, name: loan.member.name } };
  },
})
class OptLoan {
  @PrimaryKey() id!: number;
  @Property() title!: string;
  @ManyToOne(() => OptMember) member!: OptMember;
}

class BadgeDto {
  @Expose() id!: number;
  @Transform(({ value }) => String(value).toUpperCase()) code!: string;
  @Exclude() pin!: string;
}

@Entity({ tableName: 'opt_badge' })
@Master('opt-badge', { serializer: BadgeDto })
class OptBadge {
  @PrimaryKey() id!: number;
  @Property() code!: string;
  @Property() pin!: string;
}

@Entity({ tableName: 'opt_note' })
@Master('opt-note', { produce: false })
class OptNote {
  @PrimaryKey() id!: number;
  @Property() text!: string;
}

@Entity({ tableName: 'opt_card' })
@Master('opt-card', { include: ['label'], expiresAfterSeconds: 90 })
class OptCard {
  @PrimaryKey() id!: number;
  @Property() label!: string;
  @Property() internal!: string;
}

const entities = [OptMember, OptLoan, OptBadge, OptNote, OptCard];

for (const backend of testBackends()) {
  const test = suite(`what a master publishes [${backend.name}]`);
  let orm: MikroORM;
  let transport: MemoryTransport;
  let published: CqrsMessage[];

  test.before(async () => {
    orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    await installOutbox(orm.em.fork());
    transport = new MemoryTransport();
    published = [];
    await transport.subscribe('opt', ['opt-member', 'opt-loan', 'opt-badge', 'opt-note', 'opt-card'], async (m) => void published.push(m));
  });
  test.after(() => orm.close());

  const relay = async () => {
    published.length = 0;
    await new OutboxRelay(orm.em.fork(), transport).relayPending();
    await transport.drain();
    return [...published];
  };

  test('a function serializer receives the entity as committed and embeds a related entity loaded through em', async () => {
    const em = orm.em.fork();
    const member = em.create(OptMember, { name: 'Ada', secret: 's3' });
    em.create(OptLoan, { title: 'Dune', member });
    await em.flush();
    const messages = await relay();
    const loan = messages.find((m) => m.cqrsId === 'opt-loan')!;
    assert.equal(loan.state, { id: loan.key[0], title: 'Dune', member: { id: member.id, name: 'Ada' } });
    const published = messages.find((m) => m.cqrsId === 'opt-member')!;
    assert.equal(Object.keys(published.state!).sort(), ['active', 'id', 'name'], 'exclude did not drop secret');
  });

  test('shouldSync filters on the entity; the filtered change still counts a revision', async () => {
    const em = orm.em.fork();
    const member = em.create(OptMember, { name: 'Bo', secret: 'x' });
    const loan = em.create(OptLoan, { title: 'private', member });
    await em.flush();
    assert.equal((await relay()).filter((m) => m.cqrsId === 'opt-loan'), []);
    loan.title = 'public now';
    await em.flush();
    const [message] = (await relay()).filter((m) => m.cqrsId === 'opt-loan');
    assert.is(message!.revision, 2);
    assert.is(message!.state!.title, 'public now');
  });

  test('a class-transformer serializer applies the class\'s @Transform and @Exclude', async () => {
    const em = orm.em.fork();
    em.create(OptBadge, { code: 'abc', pin: '1234' });
    await em.flush();
    const [badge] = (await relay()).filter((m) => m.cqrsId === 'opt-badge');
    assert.is(badge!.state!.code, 'ABC');
    assert.is(badge!.state!.pin, undefined);
    assert.is(badge!.state!.id, badge!.key[0]);
  });

  test('produce: false publishes nothing but keeps counting revisions; include keeps the listed fields and the key', async () => {
    const em = orm.em.fork();
    const note = em.create(OptNote, { text: 'a' });
    em.create(OptCard, { label: 'L', internal: 'hidden' });
    await em.flush();
    note.text = 'b';
    await em.flush();
    const messages = await relay();
    assert.equal(messages.filter((m) => m.cqrsId === 'opt-note'), []);
    const [revision] = await orm.em.getConnection().execute<{ revision: string }[]>(
      `select revision::text from "${orm.config.get('schema') ?? 'public'}".entity_sync_revision where cqrs_id = 'opt-note' and key = '[${note.id}]'::jsonb`);
    assert.is(revision!.revision, '2');
    const [card] = messages.filter((m) => m.cqrsId === 'opt-card');
    assert.equal(card!.state, { id: card!.key[0], label: 'L' });
  });

  test('messages carry the transaction\'s correlation id and the master\'s expiry', async () => {
    let cardId = 0;
    await orm.em.fork().transactional(async (tx) => {
      await setCorrelationId(tx, 'request-42');
      const card = tx.create(OptCard, { label: 'tagged', internal: 'x' });
      await tx.flush();
      cardId = card.id;
    });
    const em = orm.em.fork();
    em.create(OptCard, { label: 'untagged', internal: 'y' });
    await em.flush();
    const cards = (await relay()).filter((m) => m.cqrsId === 'opt-card');
    assert.equal(cards.map((m) => [m.state!.label, m.correlationId]), [['tagged', 'request-42'], ['untagged', undefined]]);
    assert.is(cards[0]!.key[0], cardId);
    for (const card of cards) assert.is(Date.parse(card.expiresAt!) - Date.parse(card.createdAt), 90_000);
    assert.is((await relay()).length, 0);
  });

  test.run();
}
