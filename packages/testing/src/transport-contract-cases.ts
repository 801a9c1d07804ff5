import { isEntitySyncError, type CqrsMessage, type Transport, type TransportAdmin } from '@entity-sync/core';
import * as assert from 'uvu/assert';
import { replicaDatabaseAvailable, replicaOutageCase } from './transport-contract-replica.js';
import { contractMessage, fresh, OpenedTransports, type ContractCase } from './transport-contract-support.js';
import type { AdminMethod, TransportFixture } from './transport-fixture.js';
import { until } from './until.js';

const WAIT_MS = 60_000;

/** The contract's tests for this fixture, each with what it needs when the fixture lacks it. */
export function contractCases<T extends Transport>(fixture: TransportFixture<T>): ContractCase[] {
  const scoped = (body: (opened: OpenedTransports<T>) => Promise<void>) => async () => {
    const opened = new OpenedTransports(fixture);
    try {
      await body(opened);
    } finally {
      await opened.closeAll();
    }
  };
  const outage = fixture.outage;
  const declared = new Set<AdminMethod>(fixture.admin ?? []);
  const has = (method: AdminMethod) => declared.has(method);
  // the admin method a fixture declares, checked on the transport it opened
  const admin = <M extends AdminMethod>(transport: TransportAdmin, method: M): NonNullable<TransportAdmin[M]> => {
    const found = transport[method];
    assert.type(found, 'function', `the fixture declares ${method} in admin, but its transport has no ${method} method`);
    return (found as (...args: never[]) => unknown).bind(transport) as NonNullable<TransportAdmin[M]>;
  };
  return [
    {
      name: 'messages of one key are delivered in publish order',
      run: scoped(async (opened) => {
        const transport = await opened.transport();
        const queue = fresh('order');
        const firsts = new Map<number, number[]>();
        const seen = new Set<string>();
        const sub = await transport.subscribe(queue, [queue], async (m) => {
          if (seen.has(m.id)) return;
          seen.add(m.id);
          const key = m.key[0] as number;
          firsts.set(key, [...(firsts.get(key) ?? []), m.revision]);
        });
        const published = Array.from({ length: 75 }, (_, i) => contractMessage(queue, i % 3, Math.floor(i / 3) + 1));
        for (let batch = 0; batch < 5; batch++) await transport.publish(published.slice(batch * 15, batch * 15 + 15));
        await until('every message', () => seen.size === published.length, WAIT_MS);
        const inOrder = Array.from({ length: 25 }, (_, i) => i + 1);
        for (const key of [0, 1, 2]) assert.equal(firsts.get(key), inOrder, `key ${key} was delivered out of order`);
        await sub.stop();
      }),
    },
    {
      name: 'competing consumers on one queue: each message is handled once across them, none is lost',
      run: scoped(async (opened) => {
        const transport = await opened.transport();
        const queue = fresh('competing');
        const handled: [string, string][] = [];
        const busy = new Set<string>();
        // each consumer holds its first message until the other has one too: a transport that
        // gives every message to one consumer never lets them go, and the test fails
        const consumer = (name: string) => async (m: CqrsMessage) => {
          busy.add(name);
          await until('both consumers to hold a message at once', () => busy.size === 2, WAIT_MS, 5);
          handled.push([name, m.id]);
        };
        const subs = [await transport.subscribe(queue, [queue], consumer('first')), await transport.subscribe(queue, [queue], consumer('second'))];
        const published = Array.from({ length: 40 }, (_, i) => contractMessage(queue, i));
        await transport.publish(published);
        await until('every message', () => handled.length >= published.length, WAIT_MS);
        for (const sub of subs) await sub.stop();
        assert.equal(handled.map(([, id]) => id).sort(), published.map((m) => m.id).sort(), 'a message was lost or handled twice');
        assert.ok(handled.some(([name]) => name === 'first') && handled.some(([name]) => name === 'second'), 'one consumer took every message');
        if (has('pending')) assert.is(await admin(transport, 'pending')(queue), 0, 'messages were left in the queue');
      }),
    },
    {
      name: 'a message whose consumer died mid-message (its handler never resolved) is delivered again, to the next consumer',
      needs: fixture.crash ? undefined : 'a crash hook',
      run: scoped(async (opened) => {
        const dying = await opened.transport();
        const queue = fresh('redelivery');
        const taken: string[] = [];
        await dying.subscribe(queue, [queue], (m) => {
          taken.push(m.id);
          return new Promise<void>(() => undefined);
        });
        const published = [contractMessage(queue, 1), contractMessage(queue, 2)];
        await dying.publish(published);
        await until('the first consumer to take a message', () => taken.length > 0, WAIT_MS);
        await opened.crash(dying);
        const next = await opened.transport();
        const delivered = new Set<string>();
        const sub = await next.subscribe(queue, [queue], async (m) => void delivered.add(m.id));
        await until(`the message the dead consumer held (${taken[0]}), and the rest`, () => published.every((m) => delivered.has(m.id)), WAIT_MS);
        await sub.stop();
      }),
    },
    {
      name: 'a rejected message is retried after the configured delay, up to maxAttempts, then dead-lettered',
      partly: has('deadLetters') ? undefined : 'that the message is dead-lettered after the last attempt (no deadLetters in fixture.admin)',
      run: scoped(async (opened) => {
        const options = { maxAttempts: 3, retryDelayMs: 150 };
        const transport = await opened.transport(options);
        const queue = fresh('retry');
        const attempts: number[] = [];
        const handled: string[] = [];
        const sub = await transport.subscribe(queue, [queue], async (m) => {
          if (m.key[0] === 2) {
            attempts.push(performance.now());
            throw new Error('the replica cannot take row 2');
          }
          handled.push(m.id);
        });
        const published = [1, 2, 3].map((key) => contractMessage(queue, key));
        await transport.publish(published);
        if (has('deadLetters')) {
          const deadLetters = admin(transport, 'deadLetters');
          await until('the dead letter', async () => (await deadLetters(queue)).length === 1, WAIT_MS);
          const [letter] = await deadLetters(queue);
          assert.is(letter!.message?.id, published[1]!.id);
          assert.is(letter!.attempts, options.maxAttempts);
          assert.match(letter!.error, 'the replica cannot take row 2');
        } else {
          await until(`${options.maxAttempts} attempts`, () => attempts.length >= options.maxAttempts, WAIT_MS);
        }
        await until('the other messages', () => handled.length === 2, WAIT_MS);
        assert.is(attempts.length, options.maxAttempts, 'attempts made');
        for (let i = 1; i < attempts.length; i++) {
          // a tenth of the delay is allowance for the granularity of clocks, not for a transport's haste
          const waited = attempts[i]! - attempts[i - 1]!;
          assert.ok(waited >= options.retryDelayMs * 0.9, `retry ${i} came ${waited.toFixed(0)} ms after the failure, before the ${options.retryDelayMs} ms delay`);
        }
        assert.equal(handled.sort(), [published[0]!.id, published[2]!.id]);
        await sub.stop();
      }),
    },
    replicaOutageCase(fixture, (body) => scoped(body)(), replicaDatabaseAvailable(fixture)),
    {
      name: `dead letters are listed without being consumed, retried and purged${fixture.injectRawBody ? ', an unreadable body among them' : ''}`,
      needs: missing(['deadLetters', 'retryDeadLetters', 'purgeDeadLetters']),
      partly: fixture.injectRawBody ? undefined : 'an unreadable body among the dead letters (no injectRawBody hook)',
      run: scoped(async (opened) => {
        const transport = await opened.transport({ maxAttempts: 2, retryDelayMs: 20 });
        const deadLetters = admin(transport, 'deadLetters');
        const queue = fresh('dead');
        let broken = true;
        const handled: string[] = [];
        const sub = await transport.subscribe(queue, [queue], async (m) => {
          if (broken && m.key[0] === 7) throw new Error('row 7 is refused');
          handled.push(m.id);
        });
        const poison = contractMessage(queue, 7);
        await transport.publish([contractMessage(queue, 6), poison]);
        const raw = Buffer.from('not json {');
        if (fixture.injectRawBody) await fixture.injectRawBody(transport, queue, queue, raw);
        const expected = fixture.injectRawBody ? 2 : 1;
        await until(`${expected} dead letter(s)`, async () => (await deadLetters(queue)).length === expected, WAIT_MS);
        const letters = await deadLetters(queue);
        assert.equal(await deadLetters(queue), letters, 'listing changed the dead letters');
        const letter = letters.find((l) => l.message?.id === poison.id);
        assert.ok(letter, `the refused message is not among the dead letters: ${JSON.stringify(letters)}`);
        assert.is(letter.attempts, 2);
        assert.match(letter.error, 'row 7 is refused');
        if (fixture.injectRawBody) {
          const unreadable = letters.find((l) => l.message === null);
          assert.ok(unreadable, 'the unreadable body is not listed');
          assert.is(unreadable.body, raw.toString('utf8'));
        }

        broken = false;
        assert.is(await admin(transport, 'retryDeadLetters')(queue), expected);
        await until('the retried message', () => handled.includes(poison.id), WAIT_MS);
        // an unreadable body fails again on retry, and comes back to the dead letters
        await until(`${expected - 1} dead letter(s) after the retry`, async () => (await deadLetters(queue)).length === expected - 1, WAIT_MS);
        await transport.publish([contractMessage(queue, 8)]);
        await until('a later message', () => handled.includes(contractMessage(queue, 8).id), WAIT_MS);
        broken = true;
        await transport.publish([contractMessage(queue, 7, 2)]);
        await until(`${expected} dead letter(s) again`, async () => (await deadLetters(queue)).length === expected, WAIT_MS);
        assert.is(await admin(transport, 'purgeDeadLetters')(queue), expected);
        assert.equal(await deadLetters(queue), []);
        await sub.stop();
      }),
    },
    {
      name: 'messages published before any queue takes their CQRS id are kept, and delivered to the first queue for it',
      partly: has('declareQueue') ? undefined : 'a queue declared before its first consumer (no declareQueue in fixture.admin)',
      run: scoped(async (opened) => {
        const transport = await opened.transport();
        const early = fresh('unroutable');
        await transport.publish([contractMessage(early, 1), contractMessage(early, 2)]);
        const delivered: string[] = [];
        const sub = await transport.subscribe(early, [early], async (m) => void delivered.push(m.id));
        await until('the kept messages', () => delivered.length >= 2, WAIT_MS);
        assert.equal(delivered, [contractMessage(early, 1).id, contractMessage(early, 2).id]);
        await sub.stop();
        if (!has('declareQueue')) return;
        // declared without a consumer, the queue takes the kept messages and holds them
        const declared = fresh('unroutable');
        await transport.publish([contractMessage(declared, 1)]);
        await admin(transport, 'declareQueue')(declared, [declared]);
        await transport.publish([contractMessage(declared, 2)]);
        if (has('pending')) await until('the declared queue to hold both messages', async () => (await admin(transport, 'pending')(declared)) === 2, WAIT_MS);
        const later: string[] = [];
        const laterSub = await transport.subscribe(declared, [declared], async (m) => void later.push(m.id));
        await until('the declared queue\'s messages', () => later.length >= 2, WAIT_MS);
        assert.equal(later, [contractMessage(declared, 1).id, contractMessage(declared, 2).id]);
        await laterSub.stop();
      }),
    },
    {
      name: 'publishing while the broker is down fails with TRANSPORT_UNAVAILABLE, without hanging',
      needs: outage ? undefined : 'an outage hook',
      run: scoped(async (opened) => {
        const transport = await opened.transport();
        const queue = fresh('down');
        await transport.subscribe(queue, [queue], async () => undefined);
        await transport.publish([contractMessage(queue, 1)]);
        await outage!.stop();
        try {
          let timer: NodeJS.Timeout | undefined;
          const outcome = await Promise.race([
            transport.publish([contractMessage(queue, 2)]).then(() => 'published', (error: unknown) => error),
            new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting after 30 s'), 30_000))),
          ]);
          clearTimeout(timer);
          assert.ok(isEntitySyncError(outcome, 'TRANSPORT_UNAVAILABLE'), `expected an EntitySyncError TRANSPORT_UNAVAILABLE, got: ${String(outcome)}`);
        } finally {
          await outage!.start();
        }
      }),
    },
    {
      name: 'after the broker is stopped and started, the subscription carries on and later messages arrive',
      needs: outage ? undefined : 'an outage hook',
      run: scoped(async (opened) => {
        const transport = await opened.transport();
        const queue = fresh('reconnect');
        const delivered = new Set<string>();
        const sub = await transport.subscribe(queue, [queue], async (m) => void delivered.add(m.id));
        await transport.publish([contractMessage(queue, 1)]);
        await until('the message before the outage', () => delivered.has(contractMessage(queue, 1).id), WAIT_MS);
        await outage!.stop();
        await outage!.start();
        // the first publish after the outage may meet a connection the broker dropped: the relay publishes again
        let failure: unknown;
        await until('a publish after the outage', () => transport.publish([contractMessage(queue, 2)]).then(() => true, (error: unknown) => {
          failure = error;
          return false;
        }), WAIT_MS, 250).catch((error: Error) => {
          throw new Error(`${error.message}: ${String(failure)}`);
        });
        await until('the message published after the outage, on the same subscription', () => delivered.has(contractMessage(queue, 2).id), WAIT_MS);
        await sub.stop();
      }),
    },
  ];

  function missing(methods: AdminMethod[]): string | undefined {
    const absent = methods.filter((method) => !has(method));
    return absent.length ? `the admin method(s) ${absent.join(', ')} (fixture.admin)` : undefined;
  }
}
