export { rxdbReplicationHandlers, type EventSourceLike, type RxdbReplicationHandlers, type RxdbReplicationHandlersOptions, type RxdbServerCheckpoint } from './replication-handlers.js';
