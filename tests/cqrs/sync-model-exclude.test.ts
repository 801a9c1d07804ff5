// @SyncModel include/exclude apply to CQRS messages as @Master's do: what either excludes is
// never published (relay and dump), includes of both intersect, and the key always stays.
import 'reflect-metadata';
import { dumpMaster, EntitySync, installOutbox, OutboxRelay } from '@entity-sync/adapters/mikro-orm';
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { Master, SyncModel, type CqrsMessage } from '@entity-sync/core';
import { testBackends } from '@entity-sync/testing';
import { type MikroORM } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@entity-sync/testing/mikro-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

@Entity({ tableName: 'smx_user' })
@Master('smx-user')
@SyncModel({ exclude: ['passwordHash'] })
class SmxUser {
  @PrimaryKey() id!: number;
  @Property() email!: string;
  @Property() passwordHash!: string;
}

@Entity({ tableName: 'smx_badge' })
@Master('smx-badge', { serializer: (badge: SmxBadge) => ({ id: badge.id, code: badge.code, pin: badge.pin }) })
@SyncModel({ exclude: ['pin'] })
class SmxBadge {
  @PrimaryKey() id!: number;
  @Property() code!: string;
  @Property() pin!: string;
}

@Entity({ tableName: 'smx_card' })
@Master('smx-card', { include: ['label', 'color'] })
@SyncModel({ include: ['label', 'size'] })
class SmxCard {
  @PrimaryKey() id!: number;
  @Property() label!: string;
  @Property() color!: string;
  @Property() size!: string;
}

@Entity({ tableName: 'smx_note' })
@Master('smx-note', { exclude: ['draft'] })
@SyncModel({ include: ['title', 'draft'] })
class SmxNote {
  @PrimaryKey() id!: number;
  @Property() title!: string;
  @Property() draft!: string;
  @Property() owner!: string;
}

const entities = [SmxUser, SmxBadge, SmxCard, SmxNote];
const cqrsIds = ['smx-user', 'smx-badge', 'smx-card', 'smx-note'];

async function collect(lines: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

/** True when `value` occurs anywhere in the bytes a transport sends for `message`. */
const leaks = (message: unknown, value: string) => Buffer.from(JSON.stringify(message)).includes(Buffer.from(value));

for (const backend of testBackends()) {
  const test = suite(`@SyncModel include/exclude in CQRS messages [${backend.name}]`);
  let orm: MikroORM;
  let transport: MemoryTransport;
  const published: CqrsMessage[] = [];

  test.before(async () => {
    orm = await backend.createOrm({ entities, extensions: [EntitySync] });
    await installOutbox(orm.em.fork());
    transport = new MemoryTransport();
    await transport.subscribe('smx', cqrsIds, async (message) => void published.push(message));
  });
  test.after(() => orm.close());

  const relay = async () => {
    published.length = 0;
    await new OutboxRelay(orm.em.fork(), transport).relayPending();
    await transport.drain();
    return [...published];
  };

  test('a @SyncModel exclude keeps a column out of relayed messages: not in the state, in no byte of the message', async () => {
    const em = orm.em.fork();
    const user = em.create(SmxUser, { email: 'ada@example.org', passwordHash: 'pbkdf2$created$4f1c9e' });
    await em.flush();
    user.passwordHash = 'pbkdf2$changed$77a0d2';
    user.email = 'ada@example.com';
    await em.flush();
    const messages = (await relay()).filter((m) => m.cqrsId === 'smx-user');
    assert.equal(messages.map((m) => m.revision), [1, 2], 'the insert and the update');
    for (const message of messages) {
      assert.equal(Object.keys(message.state!).sort(), ['email', 'id']);
      assert.not.ok(leaks(message, 'pbkdf2$'), `the message of revision ${message.revision} carries a password hash`);
    }
    assert.equal(messages.map((m) => m.state!.email), ['ada@example.org', 'ada@example.com']);
    assert.is(messages[0]!.key[0], user.id);
  });

  test('a dump leaves a @SyncModel-excluded column out too', async () => {
    const em = orm.em.fork();
    em.create(SmxUser, { email: 'bo@example.org', passwordHash: 'argon2$dumped$90ab' });
    await em.flush();
    const lines = await collect(dumpMaster(orm.em.fork(), { cqrsId: 'smx-user' }));
    const messages = lines.slice(1, -1).map((line) => JSON.parse(line) as CqrsMessage);
    assert.ok(messages.some((m) => m.state!.email === 'bo@example.org'));
    for (const message of messages) assert.equal(Object.keys(message.state!).sort(), ['email', 'id']);
    assert.not.ok(lines.some((line) => line.includes('argon2$') || line.includes('pbkdf2$')), 'a dump line carries a password hash');
  });

  test('a serializer\'s output loses what @SyncModel excludes', async () => {
    const em = orm.em.fork();
    em.create(SmxBadge, { code: 'B-1', pin: 'pin-4711' });
    await em.flush();
    const [badge] = (await relay()).filter((m) => m.cqrsId === 'smx-badge');
    assert.equal(badge!.state, { id: badge!.key[0], code: 'B-1' });
    assert.not.ok(leaks(badge, 'pin-4711'));
  });

  test('includes of @Master and @SyncModel intersect, excluded by either is dropped, and the key stays', async () => {
    const em = orm.em.fork();
    em.create(SmxCard, { label: 'L', color: 'red', size: 'XL' });
    em.create(SmxNote, { title: 'T', draft: 'draft-text', owner: 'o' });
    await em.flush();
    const messages = await relay();
    const card = messages.find((m) => m.cqrsId === 'smx-card')!;
    assert.equal(card.state, { id: card.key[0], label: 'L' });
    const note = messages.find((m) => m.cqrsId === 'smx-note')!;
    assert.equal(note.state, { id: note.key[0], title: 'T' });
  });

  test.run();
}
