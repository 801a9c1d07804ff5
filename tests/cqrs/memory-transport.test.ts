// The memory transport behaves like a broker's durable queues: competing consumers share a queue,
// and nothing published before a consumer (or before the queue) is lost.
import { MemoryTransport } from '@entity-sync/adapters/memory';
import { CQRS_MESSAGE_VERSION, type CqrsMessage } from '@entity-sync/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const message = (cqrsId: string, n: number): CqrsMessage => ({
  version: CQRS_MESSAGE_VERSION, id: `${cqrsId}/${n}`, cqrsId, operation: 'save', key: [n], revision: 1,
  state: { id: n }, createdAt: new Date().toISOString(),
});

const test = suite('memory transport');

test('two consumers of one queue share its messages: each is handled once, none is lost', async () => {
  const transport = new MemoryTransport();
  const handled: [string, number][] = [];
  const consumer = (name: string) => async (m: CqrsMessage) => {
    await sleep(2);
    handled.push([name, m.key[0] as number]);
  };
  await transport.subscribe('search', ['author'], consumer('first'));
  await transport.subscribe('search', ['author'], consumer('second'));
  await transport.publish(Array.from({ length: 20 }, (_, i) => message('author', i)));
  await transport.drain();
  assert.equal(handled.map(([, n]) => n).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
  assert.ok(handled.some(([name]) => name === 'first') && handled.some(([name]) => name === 'second'), 'both consumers worked');
});

test('messages published to a declared queue wait for its first consumer', async () => {
  const transport = new MemoryTransport();
  await transport.declareQueue('search', ['author']);
  await transport.publish([message('author', 1), message('author', 2)]);
  const handled: number[] = [];
  await transport.subscribe('search', ['author'], async (m) => void handled.push(m.key[0] as number));
  await transport.drain();
  assert.equal(handled, [1, 2]);
});

test('a message no queue takes is kept as unroutable and delivered to the first queue declared for it', async () => {
  const transport = new MemoryTransport();
  await transport.publish([message('author', 1), message('book', 7)]);
  assert.equal(transport.unroutable.map((m) => m.id), ['author/1', 'book/7']);
  const handled: string[] = [];
  await transport.subscribe('search', ['author'], async (m) => void handled.push(m.id));
  await transport.drain();
  assert.equal(handled, ['author/1']);
  assert.equal(transport.unroutable.map((m) => m.id), ['book/7']);
});

test('a stopped consumer leaves the queue to the others', async () => {
  const transport = new MemoryTransport();
  const handled: string[] = [];
  const first = await transport.subscribe('search', ['author'], async (m) => void handled.push(`first ${m.id}`));
  await transport.subscribe('search', ['author'], async (m) => void handled.push(`second ${m.id}`));
  await first.stop();
  await transport.publish([message('author', 1)]);
  await transport.drain();
  assert.equal(handled, ['second author/1']);
});

test.run();
