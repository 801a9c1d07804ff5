export { installOutbox, setCorrelationId, type InstallOutboxOptions } from './master/outbox.js';
export { captureStatus, type CaptureMode, type CaptureStatus, type CaptureStatusOptions, type SlotStatus } from './master/wal-capture.js';
export { OutboxRelay, type OutboxRelayOptions, type RelayReport } from './relay/outbox-relay.js';
export { installReplica, ReplicaApplier } from './replica/replica-applier.js';
export type { ReplicaHandlers } from './replica/replica-handlers.js';
export { ReplicaConsumer, type ReplicaConsumerOptions, type ConsumerStats } from './replica/replica-consumer.js';
export {
  dumpMaster, loadReplica, syncMaster, diffMaster, diffReplica, diffSync,
  type RepairOptions, type DumpMasterOptions, type LoadReplicaOptions, type LoadReplicaReport, type SyncMasterOptions, type SyncMasterReport,
  type DiffMasterOptions, type DiffReplicaOptions, type DiffSyncOptions, type DiffSyncReport, type DiffKind,
} from './repair/index.js';
