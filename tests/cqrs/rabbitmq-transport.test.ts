// The RabbitMQ transport against a real broker: routing by CQRS id, one queue per replica
// service, delayed retries, dead letters, and a broker restart in the middle of a stream.
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import { CQRS_MESSAGE_VERSION, isEntitySyncError, type CqrsMessage } from '@entity-sync/core';
import { rabbitMqAvailable, rabbitMqBroker, type RabbitMqBroker } from '@entity-sync/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

const message = (cqrsId: string, n: number, extra: Partial<CqrsMessage> = {}): CqrsMessage => ({
  version: CQRS_MESSAGE_VERSION, id: `${cqrsId}/${n}`, cqrsId, operation: 'save', key: [n], revision: 1,
  state: { id: n }, createdAt: new Date().toISOString(), ...extra,
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

if (rabbitMqAvailable()) {
  const test = suite('RabbitMQ transport');
  let broker: RabbitMqBroker;
  const transports: RabbitMqTransport[] = [];
  const open = (options: Partial<ConstructorParameters<typeof RabbitMqTransport>[0]> = {}) => {
    const transport = new RabbitMqTransport({ url: broker.url, exchange: 'transport_test', retryDelayMs: 50, maxAttempts: 3, ...options });
    transports.push(transport);
    return transport;
  };

  test.before(async () => {
    broker = await rabbitMqBroker();
  });
  test.after(async () => {
    for (const transport of transports) await transport.close();
  });

  test('routes each message to the queues bound to its CQRS id, in publish order; a queue-targeted publish reaches that queue only', async () => {
    const transport = open();
    await transport.declareQueue('rt-authors', ['author']);
    await transport.declareQueue('rt-books', ['book']);
    await transport.declareQueue('rt-both', ['author', 'book']);
    const got: Record<string, string[]> = { 'rt-authors': [], 'rt-books': [], 'rt-both': [] };
    const subs = await Promise.all(Object.keys(got).map((queue) => transport.subscribe(queue, queue === 'rt-books' ? ['book'] : queue === 'rt-authors' ? ['author'] : ['author', 'book'],
      async (m) => void got[queue]!.push(m.id))));
    const published = Array.from({ length: 40 }, (_, i) => message(i % 3 ? 'author' : 'book', i));
    await transport.publish(published);
    await transport.publish([message('author', 100)], { queue: 'rt-books' });
    await until('all deliveries', () => got['rt-both']!.length === 40 && got['rt-books']!.length === 15);
    assert.equal(got['rt-both'], published.map((m) => m.id));
    assert.equal(got['rt-authors'], published.filter((m) => m.cqrsId === 'author').map((m) => m.id));
    assert.equal(got['rt-books'], [...published.filter((m) => m.cqrsId === 'book').map((m) => m.id), 'author/100']);
    for (const sub of subs) await sub.stop();
  });

  test('a failing message is retried with growing delays, dead-lettered with its error, listed without being consumed, replayed and purged', async () => {
    const transport = open();
    await transport.declareQueue('rt-retry', ['author']);
    let broken = true;
    const attempts: number[] = [];
    const applied: string[] = [];
    const sub = await transport.subscribe('rt-retry', ['author'], async (m) => {
      if (m.key[0] === 7 && broken) {
        attempts.push(Date.now());
        throw new Error('the replica cannot take 7');
      }
      applied.push(m.id);
    });
    await transport.publish([message('author', 6), message('author', 7), message('author', 8)]);
    await until('the dead letter', async () => (await transport.deadLetters('rt-retry')).length === 1);
    assert.is(attempts.length, 3);
    assert.ok(attempts[2]! - attempts[1]! >= attempts[1]! - attempts[0]!, 'the second delay is not longer than the first');
    assert.ok(attempts[1]! - attempts[0]! >= 45, 'retried without waiting');
    assert.equal(applied, ['author/6', 'author/8']);
    const [letter] = await transport.deadLetters('rt-retry');
    assert.is(letter!.message.id, 'author/7');
    assert.is(letter!.attempts, 3);
    assert.is(letter!.error, 'the replica cannot take 7');
    assert.is((await transport.deadLetters('rt-retry')).length, 1, 'listing consumed the dead letter');

    broken = false;
    assert.is(await transport.retryDeadLetters('rt-retry'), 1);
    await until('the replay', () => applied.length === 3);
    assert.is(applied[2], 'author/7');
    assert.equal(await transport.deadLetters('rt-retry'), []);

    // another deployment with other retry delays declares the same queue without a clash
    const redeployed = open({ retryDelayMs: 30 });
    await redeployed.declareQueue('rt-retry', ['author']);
    await redeployed.publish([message('author', 9)]);
    await until('the redeployed publish', () => applied.includes('author/9'));

    broken = true;
    await transport.publish([message('author', 7, { id: 'author/7/again' })]);
    await until('the second dead letter', async () => (await transport.deadLetters('rt-retry')).length === 1);
    assert.is(await transport.purgeDeadLetters('rt-retry'), 1);
    assert.equal(await transport.deadLetters('rt-retry'), []);
    await sub.stop();
  });

  test('a message the replica cannot read goes to the dead letters at once, without retries', async () => {
    const transport = open();
    await transport.declareQueue('rt-invalid', ['author']);
    let calls = 0;
    const sub = await transport.subscribe('rt-invalid', ['author'], async () => void (calls += 1));
    await transport.publish([{ ...message('author', 1), version: 99 as never }, message('author', 2)]);
    await until('the valid message', () => calls === 1);
    await until('the dead letter', async () => (await transport.deadLetters('rt-invalid')).length === 1);
    const [letter] = await transport.deadLetters('rt-invalid');
    assert.is(letter!.attempts, 1);
    assert.match(letter!.error, 'CQRS_MESSAGE_VERSION');
    await sub.stop();
  });

  test('a body that is not JSON is dead-lettered at once and said so, and the listing shows it instead of failing', async () => {
    const told: { id?: string; error: string }[] = [];
    const transport = open({ onDeadLetter: (letter) => void told.push(letter) });
    await transport.declareQueue('rt-garbage', ['author']);
    const sub = await transport.subscribe('rt-garbage', ['author'], async () => {});
    const amqp = createRequire(join(root, 'packages/adapters/package.json'))('amqplib') as typeof import('amqplib');
    const connection = await amqp.connect(broker.url);
    const channel = await connection.createConfirmChannel();
    channel.publish('transport_test', 'author', Buffer.from('not json {'), { persistent: true });
    await channel.waitForConfirms();
    await connection.close();
    await until('the dead letter', async () => (await transport.deadLetters('rt-garbage')).length === 1);
    const [letter] = await transport.deadLetters('rt-garbage');
    assert.is(letter!.message, null);
    assert.is(letter!.body, 'not json {');
    assert.is(letter!.attempts, 1);
    assert.equal(told.map((t) => t.id), [undefined]);
    assert.match(told[0]!.error, 'JSON');
    await sub.stop();
  });

  test('retrying dead letters that fail again moves each once, with one confirm, and ends', async () => {
    const transport = open({ maxAttempts: 1, onDeadLetter: () => {} });
    await transport.declareQueue('rt-bounce', ['author']);
    const sub = await transport.subscribe('rt-bounce', ['author'], async () => {
      throw new Error('still broken');
    });
    await transport.publish(Array.from({ length: 5 }, (_, i) => message('author', i)));
    await until('five dead letters', async () => (await transport.deadLetters('rt-bounce')).length === 5);
    assert.is(await transport.retryDeadLetters('rt-bounce'), 5);
    await until('the five back in the dead letters', async () => (await transport.deadLetters('rt-bounce')).length === 5);
    await sub.stop();
  });

  test('a message published before any queue takes its CQRS id is kept, reported, and delivered to the queue declared after it', async () => {
    const told: [number, string[]][] = [];
    const transport = open({ onUnroutable: (count, ids) => void told.push([count, ids]) });
    await transport.publish([message('early-bird', 1), message('early-bird', 2)]);
    assert.equal(told, [[2, ['early-bird']]]);
    assert.is(transport.unroutable, 2);
    await transport.declareQueue('rt-late', ['early-bird']);
    const delivered: string[] = [];
    const sub = await transport.subscribe('rt-late', ['early-bird'], async (m) => void delivered.push(m.id));
    await until('the kept messages', () => delivered.length === 2);
    assert.equal(delivered, ['early-bird/1', 'early-bird/2']);
    await sub.stop();
  });

  test('the broker stopped and restarted mid-stream: publishing fails typed while it is down, consumers resume, nothing is lost or reordered', async () => {
    const transport = open({ reconnectDelayMs: 100 });
    await transport.declareQueue('rt-outage', ['author']);
    const firsts: number[] = [];
    const seen = new Set<number>();
    const sub = await transport.subscribe('rt-outage', ['author'], async (m) => {
      const n = m.key[0] as number;
      if (!seen.has(n)) firsts.push(n);
      seen.add(n);
      await new Promise((resolve) => setTimeout(resolve, 2));
    });
    await transport.publish(Array.from({ length: 300 }, (_, i) => message('author', i)));
    await until('the stream to start', () => firsts.length > 20);
    await broker.stop();
    const down = await transport.publish([message('author', 999)]).then(() => undefined, (error: unknown) => error);
    assert.ok(isEntitySyncError(down, 'TRANSPORT_UNAVAILABLE'), String(down));
    await broker.resume();
    await until('publishing to work again', () => transport.publish(Array.from({ length: 100 }, (_, i) => message('author', 300 + i))).then(() => true, () => false));
    await until('every message', () => seen.size === 400, 60_000);
    assert.equal(firsts, Array.from({ length: 400 }, (_, i) => i), 'a message was first delivered out of order');
    await sub.stop();
  });

  test('a broker that blocks publishers (memory alarm) fails the publish at once, typed, and publishing resumes when it clears', async () => {
    const transport = open();
    await transport.declareQueue('rt-alarm', ['author']);
    await transport.publish([message('author', 1)]);
    broker.setMemoryAlarm(true);
    try {
      const refused = await Promise.race([
        transport.publish([message('author', 2)]).then(() => 'published', (error: unknown) => error),
        new Promise((resolve) => setTimeout(() => resolve('still waiting after 10 s'), 10_000)),
      ]);
      assert.ok(isEntitySyncError(refused, 'TRANSPORT_UNAVAILABLE'), String(refused));
      assert.match((refused as Error).message, 'blocking publishers');
    } finally {
      broker.setMemoryAlarm(false);
    }
    await until('publishing to work again', () => transport.publish([message('author', 3)]).then(() => true, () => false));
    const got: number[] = [];
    const sub = await transport.subscribe('rt-alarm', ['author'], async (m) => void got.push(m.key[0] as number));
    await until('the messages', () => got.includes(1) && got.includes(3));
    await sub.stop();
  });

  test.run();
}
