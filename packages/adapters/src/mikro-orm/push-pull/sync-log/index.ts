export { SYNC_LOG_TABLE } from './sync-log-table.js';
export { exportSyncLog, pruneSyncLog, syncLog, type PruneSyncLogOptions, type SyncLogEntry, type SyncLogOptions, type SyncLogPage } from './sync-log.js';
export type { SyncFacts, SyncLogSink, SyncObserveOptions } from './sync-observer.js';
export type { SyncLogRecord } from './sync-log.js';
