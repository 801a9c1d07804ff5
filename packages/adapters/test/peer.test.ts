// An optional peer package that is not installed fails typed, naming what to install.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadPeer } from '../src/internal/peer.js';

const test = suite('optional peer packages');

test('a missing peer is PEER_MISSING with the package, the feature and the install command', async () => {
  const error = await loadPeer('entity-sync-no-such-peer', 'The example feature').catch((e) => e);
  assert.is(error.code, 'PEER_MISSING');
  assert.is(error.message, "The example feature needs the package 'entity-sync-no-such-peer', which is not installed: npm install entity-sync-no-such-peer");
  assert.equal(error.info, { package: 'entity-sync-no-such-peer', feature: 'The example feature' });
});

test('an installed peer loads, once', async () => {
  const first = await loadPeer<typeof import('amqplib')>('amqplib', 'The RabbitMQ transport');
  assert.type(first.connect, 'function');
  assert.is(await loadPeer('amqplib', 'The RabbitMQ transport'), first);
});

test.run();
