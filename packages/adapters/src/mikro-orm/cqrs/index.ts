export { installOutbox, setCorrelationId } from './master/outbox.js';
export { relayOutbox, OutboxRelay, type RelayOptions, type OutboxRelayOptions } from './relay/outbox-relay.js';
export { installReplica, ReplicaApplier } from './replica/replica-applier.js';
export type { ReplicaHandlers } from './replica/replica-handlers.js';
export { ReplicaConsumer, type ReplicaConsumerOptions, type ConsumerStats } from './replica/replica-consumer.js';
export {
  dumpMaster, loadReplica, syncMaster, diffMaster, diffReplica, diffSync,
  type RepairOptions, type DumpMasterOptions, type LoadReplicaOptions, type LoadReplicaResult, type SyncMasterOptions,
  type DiffMasterOptions, type DiffReplicaOptions, type DiffSyncOptions, type DiffSyncResult, type DiffKind,
} from './repair/index.js';
