// Faults of the RabbitMQ transport around a lost connection: a consumer the broker refuses must
// leave neither a registered consumer nor a connection behind, and an operator hears of an outage
// once, not once per delivery that was in flight.
import { RabbitMqTransport } from '@entity-sync/adapters/rabbitmq';
import { CQRS_MESSAGE_VERSION, isEntitySyncError, type CqrsMessage } from '@entity-sync/core';
import { rabbitMqAvailable, rabbitMqBroker, type RabbitMqBroker } from '@entity-sync/testing';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { until } from '../support/until.js';

const amqp = createRequire(new URL('../../packages/adapters/package.json', import.meta.url))('amqplib') as typeof import('amqplib');
const VHOST = 'transport-faults';

const message = (cqrsId: string, n: number): CqrsMessage => ({
  version: CQRS_MESSAGE_VERSION, id: `${cqrsId}/${n}`, cqrsId, operation: 'save', key: [n], revision: 1,
  state: { id: n }, createdAt: new Date().toISOString(),
});

if (rabbitMqAvailable()) {
  const test = suite('RabbitMQ transport faults');
  let broker: RabbitMqBroker;
  let url: string;
  const transports: RabbitMqTransport[] = [];
  // connections of this file's own vhost, so that other suites' connections do not count
  const connections = () => broker.rabbitmqctl(['-q', 'list_connections', '--no-table-headers', 'vhost']).split('\n').filter((line) => line.trim() === VHOST).length;
  const cutConnections = () => broker.rabbitmqctl(['close_all_connections', '-p', VHOST, 'the test cuts the connection']);
  // a queue declared by hand with an argument the transport does not give it, so that its declaration is refused
  const redeclareWithOtherArguments = async (queue: string) => {
    const connection = await amqp.connect(url);
    try {
      const channel = await connection.createChannel();
      await channel.deleteQueue(queue);
      await channel.assertQueue(queue, { durable: true, arguments: { 'x-max-length': 1000 } });
    } finally {
      await connection.close();
    }
  };
  const deleteQueue = async (queue: string) => {
    const connection = await amqp.connect(url);
    try {
      await (await connection.createChannel()).deleteQueue(queue);
    } finally {
      await connection.close();
    }
  };

  test.before(async () => {
    broker = await rabbitMqBroker();
    broker.rabbitmqctl(['add_vhost', VHOST]);
    broker.rabbitmqctl(['set_permissions', '-p', VHOST, 'guest', '.*', '.*', '.*']);
    url = `${broker.url}/${VHOST}`;
  });
  test.after(async () => {
    for (const transport of transports) await transport.close();
    broker.rabbitmqctl(['delete_vhost', VHOST]);
  });

  test('a subscribe the broker refuses fails typed and leaves nothing behind: after a lost connection the other subscription resumes, on one connection', async () => {
    await redeclareWithOtherArguments('rf-clash');
    const transport = new RabbitMqTransport({ url, exchange: 'rf', reconnectDelayMs: 50, onError: () => undefined, onReconnect: () => undefined });
    transports.push(transport);
    const refused = await transport.subscribe('rf-clash', ['rf-clash'], async () => undefined).then(() => 'subscribed', (error: unknown) => error);
    assert.ok(isEntitySyncError(refused, 'TRANSPORT_REFUSED'), String(refused));
    assert.match((refused as Error).message, 'rf-clash');
    const delivered = new Set<string>();
    const sub = await transport.subscribe('rf-ok', ['rf-ok'], async (m) => void delivered.add(m.id));
    await transport.publish([message('rf-ok', 1)]);
    await until('the first message', () => delivered.has('rf-ok/1'));

    cutConnections();
    let n = 1;
    await until('the subscription to resume', async () => {
      await transport.publish([message('rf-ok', ++n)]).catch(() => undefined);
      return delivered.has(`rf-ok/${n}`);
    }, 30_000, 200);
    assert.is(connections(), 1, 'connections of the transport');
    await sub.stop();
    await transport.close();
  });

  test('a reconnect the broker refuses (the queue came back with other arguments) is said once and leaks no connection; it succeeds once the queue is right', async () => {
    const errors: unknown[] = [];
    const reconnects: { attempts: number }[] = [];
    const transport = new RabbitMqTransport({ url, exchange: 'rf', reconnectDelayMs: 50, onError: (error) => void errors.push(error), onReconnect: (info) => void reconnects.push(info) });
    transports.push(transport);
    const delivered = new Set<string>();
    const sub = await transport.subscribe('rf-moved', ['rf-moved'], async (m) => void delivered.add(m.id));
    await redeclareWithOtherArguments('rf-moved');
    cutConnections();
    await until('the refusal to be said', () => errors.some((error) => isEntitySyncError(error, 'TRANSPORT_REFUSED')));
    // let it try again a few times (50, 100, 200, 400 ms apart) while the queue is wrong
    await sleep(1000);
    await deleteQueue('rf-moved');
    await until('the reconnect', () => reconnects.length === 1, 30_000);
    assert.ok(reconnects[0]!.attempts >= 2, `the reconnect took ${reconnects[0]!.attempts} attempt(s)`);
    assert.is(connections(), 1, 'connections left by the refused attempts');
    assert.is(errors.filter((error) => isEntitySyncError(error, 'TRANSPORT_REFUSED')).length, 1, 'the refusal was said more than once');
    await transport.publish([message('rf-moved', 1)]);
    await until('a message after the reconnect', () => delivered.has('rf-moved/1'));
    await sub.stop();
    await transport.close();
  });

  test('a lost connection is reported once, however many deliveries were in flight, and the reconnect says how many went back to the queue', async () => {
    const errors: unknown[] = [];
    const reconnects: { attempts: number; returned: number }[] = [];
    // the handlers hold their deliveries until the connection is lost, however long the cut takes to come
    let lost!: () => void;
    const connectionLost = new Promise<void>((resolve) => { lost = resolve; });
    const transport = new RabbitMqTransport({ url, exchange: 'rf', prefetch: 400, concurrency: 200, reconnectDelayMs: 50,
      onError: (error) => { errors.push(error); lost(); }, onReconnect: (info) => void reconnects.push(info) });
    transports.push(transport);
    const handled = new Set<number>();
    let calls = 0;
    const sub = await transport.subscribe('rf-flood', ['rf-flood'], async (m) => {
      calls += 1;
      await connectionLost;
      await sleep(20);
      handled.add(m.key[0] as number);
    });
    await transport.publish(Array.from({ length: 2000 }, (_, i) => message('rf-flood', i)));
    await until('deliveries in flight', () => calls >= 200);
    cutConnections();
    await until('the reconnect', () => reconnects.length === 1, 30_000);
    await until('every message', () => handled.size === 2000, 60_000);
    assert.is(errors.length, 1, `reports of one lost connection: ${errors.slice(0, 3).map(String).join(' | ')}`);
    assert.ok(isEntitySyncError(errors[0], 'TRANSPORT_UNAVAILABLE'), String(errors[0]));
    assert.ok(reconnects[0]!.returned > 0, 'the deliveries given back to the queue were not counted');
    await sub.stop();
    await transport.close();
  });

  test.run();
}
