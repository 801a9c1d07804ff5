// The repair tools of CQRS replication. They talk across processes through NDJSON line streams
// (one string per line, without its newline): a dump (`dumpMaster` -> `loadReplica`) and a
// diff (`diffMaster` -> `diffReplica` -> `diffSync`). Every stream starts with a header line and
// ends with an end line, so that a file cut short is refused instead of half applied.

export type { RepairOptions } from './repair-options.js';
export { dumpMaster, loadReplica, type DumpMasterOptions, type LoadReplicaOptions, type LoadReplicaReport } from './dump.js';
export { syncMaster, type SyncMasterOptions, type SyncMasterReport } from './sync-master.js';
export { diffMaster, type DiffMasterOptions } from './diff-master.js';
export { diffReplica, type DiffReplicaOptions } from './diff-replica.js';
export { diffSync, type DiffSyncOptions, type DiffSyncReport } from './diff-sync.js';
export type { DiffKind } from './diff-report.js';
