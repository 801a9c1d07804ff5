export { installOutbox } from './outbox.js';
export { relayOutbox, type RelayOptions } from './outbox-relay.js';
export { installReplica, ReplicaApplier, type ReplicaHandlers } from './replica-applier.js';
