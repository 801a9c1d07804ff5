export { CHANGES_CHANNEL, installPushPull, ROW_VERSION_TABLE, type InstallPushPullOptions } from './row-versions.js';
export { pullChanges, type ModelChanges, type PullChangesOptions, type PulledChanges } from './pull-changes.js';
export { pushPullRoutes, syncScope, PUSH_PULL_PULL_RIGHT, PUSH_PULL_PUSH_RIGHT, type PushPullRoutesOptions } from './push-pull-http.js';
export { pushChanges, type PushConflictPolicy, type PushChange, type PushChangesOptions, type PushConflict, type PushResult, type PushRowResult } from './push-changes.js';
export type { SyncAccess } from './access.js';
export { pullStreamRoutes, type LiveStreamRoutes, type PullStreamRoutesOptions } from './pull-stream.js';
export { rxdbRoutes, type RxdbCheckpoint, type RxdbDocument, type RxdbRoutesOptions } from './rxdb.js';
