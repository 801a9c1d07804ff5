// The area error classes: what a program matching on them relies on (name, code, info, cause,
// instanceof), and the wordings one factory now writes for several call sites.
import { CommandLineError, CqrsError, EntitySyncError, isEntitySyncError, OperationError, SetupError, TransportError } from '@entity-sync/core';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const test = suite('error factories');

test('a factory\'s error is its class and an EntitySyncError, named after the class, with code, info and cause', () => {
  const cause = new Error('connect ECONNREFUSED 127.0.0.1:5672');
  const cases: [EntitySyncError, Function, string, string][] = [
    [CqrsError.stateDoesNotFit('price', 'PriceCopy', cause), CqrsError, 'CqrsError', 'CQRS_SCHEMA_MISMATCH'],
    [TransportError.unavailable('Cannot reach RabbitMQ.', cause), TransportError, 'TransportError', 'TRANSPORT_UNAVAILABLE'],
    [SetupError.peerMissing('pg', 'The PostgreSQL transport', cause), SetupError, 'SetupError', 'PEER_MISSING'],
    [OperationError.aborted(cause), OperationError, 'OperationError', 'OPERATION_ABORTED'],
    [CommandLineError.configInvalid('/app/mikro-orm.config.js', cause), CommandLineError, 'CommandLineError', 'CONFIG_INVALID'],
  ];
  for (const [error, type, name, code] of cases) {
    assert.instance(error, type, name);
    assert.instance(error, EntitySyncError, name);
    assert.instance(error, Error, name);
    assert.is(error.name, name);
    assert.ok(isEntitySyncError(error, code as EntitySyncError['code']), `${name}: ${error.code}`);
    assert.is(error.cause, cause, name);
  }
  assert.equal(cases[0]![0].info, { cqrsId: 'price', entity: 'PriceCopy' });
  assert.equal(cases[1]![0].info, { cause: cause.message });
  assert.equal(cases[2]![0].info, { package: 'pg', feature: 'The PostgreSQL transport' });
});

test('an unknown CQRS id is worded alike for masters, replicas and received messages, each with its own advice', () => {
  const master = CqrsError.unknownMaster('writer', ['author', 'book']);
  const replica = CqrsError.unknownReplica('writer', []);
  const received = CqrsError.messageWithoutReplica('writer', ['author']);
  assert.is(master.message, "No @Master('writer') entity in this ORM (it declares author, book). Check the CQRS id, or run this on the master service that declares it.");
  assert.is(replica.message, "No @Replica('writer') entity in this ORM (it declares none). Check the CQRS id, or run this on the replica service that declares it.");
  assert.is(received.message, "No @Replica('writer') entity in this ORM (it declares author). Declare one, or stop routing that id to this service's queue.");
  for (const error of [master, replica, received]) {
    assert.is(error.code, 'CQRS_UNKNOWN_ID');
    assert.equal(error.info, { cqrsId: 'writer' });
  }
});

test('the factories the command line raises keep its wordings', () => {
  // the CLI's missing `pg` for a postgres:// transport reads as it did
  assert.is(SetupError.peerMissing('pg', 'A postgres:// transport').message,
    "A postgres:// transport needs the package 'pg', which is not installed: npm install pg");
  const failure = new Error('Unexpected token');
  assert.match(CommandLineError.configInvalid('/app/src/mikro-orm.config.ts', failure).message,
    'Cannot load the MikroORM config /app/src/mikro-orm.config.ts: Unexpected token. A TypeScript config needs a loader');
  assert.is(CommandLineError.configInvalid('/app/mikro-orm.config.js', failure).message,
    'Cannot load the MikroORM config /app/mikro-orm.config.js: Unexpected token.');
  assert.is(CommandLineError.queueNeeded(['a', 'b']).message, 'Replicas of this ORM name several queues (a, b): pass --queue.');
  assert.match(CommandLineError.queueNeeded([]).message, 'Pass --queue <name>');
  assert.is(CommandLineError.exclusiveOptions('--retry', '--purge').message, 'Pass --retry or --purge, not both.');
  assert.match(CommandLineError.noTransport('/app/mikro-orm.config.js').message, 'or export a transport factory from the config module');
  assert.match(CommandLineError.noTransport('/app/mikro-orm.config.js').message, '/app/mikro-orm.config.js exports none.');
  for (const error of [CommandLineError.noTransport(), CommandLineError.unknownTransportUrl('amqp://u:***@h'), CommandLineError.queueWithoutReplicas('q')]) {
    assert.is(error.code, 'USAGE');
    assert.equal(error.info, {}, 'usage errors carry no info (the CLI prints it with --json)');
  }
});

test('a closed transport names itself', () => {
  const closed = TransportError.closed('PostgreSQL');
  assert.is(closed.code, 'TRANSPORT_UNAVAILABLE');
  assert.match(closed.message, 'The PostgreSQL transport is closed');
  assert.equal(closed.info, { transport: 'PostgreSQL' });
});

test.run();
