// What each package's public entry points export: every name the README documents, and none of
// the internals that once leaked (a helper that takes an unexported type, a class the relay
// builds its messages with, a channel name, the CLI's own parsing).
import * as core from '@entity-sync/core';
import * as http from '@entity-sync/adapters/http';
import * as httpExpress from '@entity-sync/adapters/http/express';
import * as httpFastify from '@entity-sync/adapters/http/fastify';
import * as httpNode from '@entity-sync/adapters/http/node';
import * as memory from '@entity-sync/adapters/memory';
import * as mikroOrm from '@entity-sync/adapters/mikro-orm';
import * as postgres from '@entity-sync/adapters/postgres';
import * as rabbitmq from '@entity-sync/adapters/rabbitmq';
import * as rxdb from '@entity-sync/adapters/rxdb';
import * as storage from '@entity-sync/adapters/storage';
import * as testing from '@entity-sync/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const DOCUMENTED: [string, Record<string, unknown>, string[]][] = [
  ['@entity-sync/core', core, ['SyncModel', 'Master', 'Replica', 'registerSyncModel', 'registerMaster', 'registerReplica', 'EntitySyncError',
    'RegistryError', 'GraphError', 'ImportError', 'CqrsError', 'TransportError', 'SetupError', 'HttpError', 'EnvSyncError', 'SyncStreamReader',
    'PushPullError', 'encodeCheckpoint', 'decodeCheckpoint', 'AuditError', 'discoverSyncModels', 'diff', 'diffStream', 'reconcile', 'describeReconcile',
    'fromRecords', 'fromCsv', 'fromNdjson', 'comparators', 'compareKeys', 'DiffError', 'describeDiff']],
  ['@entity-sync/adapters/mikro-orm', mikroOrm, [
    'EntitySync', 'exportGraph', 'importGraph', 'deleteGraph',
    'installOutbox', 'setCorrelationId', 'OutboxRelay', 'installReplica', 'ReplicaApplier', 'ReplicaConsumer',
    'dumpMaster', 'loadReplica', 'syncMaster', 'diffMaster', 'diffReplica', 'diffSync', 'exportReferenceData', 'pullReferenceData', 'envSyncRoutes', 'pullFrom', 'ENV_SYNC_RIGHT',
    'installPushPull', 'pullChanges', 'ROW_VERSION_TABLE', 'pushPullRoutes', 'PUSH_PULL_PULL_RIGHT', 'pushChanges', 'PUSH_PULL_PUSH_RIGHT', 'pullStreamRoutes', 'rxdbRoutes',
    'installAudit', 'auditTrail', 'auditedRowAt', 'exportAuditTrail', 'pruneAudit', 'setAuditActor', 'withAuditActor', 'scheduleRetention',
    'syncLog', 'exportSyncLog', 'pruneSyncLog', 'createSyncMetrics', 'metricsRoutes', 'healthRoutes', 'servedModelList', 'adminRoutes', 'fromEntity', 'fromTable',
  ]],
  ['@entity-sync/adapters/http', http, ['createHttpHandler', 'staticTokenAuth', 'jwtAuth', 'tokenRoutes', 'ndjson', 'ndjsonBatches', 'bytes', 'httpGetLines', 'httpGetLineBatches', 'httpGetBytes',
    'STATUS_OF_CODE', 'statusOfCode']],
  ['@entity-sync/adapters/http/node', httpNode, ['toNodeListener']],
  ['@entity-sync/adapters/http/express', httpExpress, ['toExpressMiddleware']],
  ['@entity-sync/adapters/http/fastify', httpFastify, ['toFastifyPlugin']],
  ['@entity-sync/adapters/storage', storage, ['LocalDirectoryStorage']],
  ['@entity-sync/adapters/memory', memory, ['MemoryTransport']],
  ['@entity-sync/adapters/postgres', postgres, ['PostgresTransport', 'pgClient', 'pgliteClient']],
  ['@entity-sync/adapters/rabbitmq', rabbitmq, ['RabbitMqTransport']],
  ['@entity-sync/adapters/rxdb', rxdb, ['rxdbReplicationHandlers']],
  ['@entity-sync/testing', testing, ['testBackends', 'createTestOrm', 'PostgresCluster', 'RabbitMqBroker', 'runSqlFile', 'until', 'transportContract', 'allAdmin', 'MemoryTransport']],
];

const INTERNAL: [string, Record<string, unknown>, string[]][] = [
  ['@entity-sync/core', core, ['parseRootSpec', 'targetName', 'validateHeader', 'isCutShort', 'describeDatabaseError']],
  ['@entity-sync/adapters/mikro-orm', mikroOrm, ['buildRelationGraph', 'MasterMessages', 'OUTBOX_CHANNEL', 'SqlSession', 'TableGraph', 'openSink', 'ChangeNotifier', 'changeStream']],
  ['@entity-sync/adapters/http', http, ['declareRoutes', 'authenticateRequest', 'errorResponse', 'validateWith', 'isUnderPrefix']],
];

// names that once stood for a concept another name now has (one name per concept)
const RETIRED: [string, Record<string, unknown>, string[]][] = [
  ['@entity-sync/adapters/mikro-orm', mikroOrm, ['relayOutbox']],
];

const test = suite('public API');

test('every documented name is exported where the README says', () => {
  const missing = DOCUMENTED.flatMap(([entry, exports, names]) => names.filter((name) => !(name in exports)).map((name) => `${entry}: ${name}`));
  assert.equal(missing, []);
});

test('a concept has one name: retired names are not exported', () => {
  const back = RETIRED.flatMap(([entry, exports, names]) => names.filter((name) => name in exports).map((name) => `${entry}: ${name}`));
  assert.equal(back, []);
});

test('internal helpers are not exported', () => {
  const leaked = INTERNAL.flatMap(([entry, exports, names]) => names.filter((name) => name in exports).map((name) => `${entry}: ${name}`));
  assert.equal(leaked, []);
});

test.run();
