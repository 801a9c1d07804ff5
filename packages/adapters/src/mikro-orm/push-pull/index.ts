export { CHANGES_CHANNEL, installPushPull, PUSH_PULL_STATE_TABLE, ROW_VERSION_TABLE, type InstallPushPullOptions } from './row-versions.js';
export { pullChanges, type ModelChanges, type PullChangesOptions, type PulledChanges } from './pull-changes.js';
export { pushPullRoutes, syncScope, PUSH_PULL_PULL_RIGHT, PUSH_PULL_PUSH_RIGHT, type PushPullRoutesOptions } from './push-pull-http.js';
export { pushChanges, type PushConflictPolicy, type PushChange, type PushChangesOptions, type PushConflict, type PushResult, type PushRowResult } from './push-changes.js';
export type { SyncAccess } from './access.js';
export { CURRENT_TENANT, CURRENT_USER, grantPermissions, listPermissions, PERMISSION_TABLE, revokePermissions, ROW_FILTER_TABLE, type GrantPermissionsOptions, type ModelPermission, type RowFilter, type RowFilterOp, type RowFilterValue } from './permissions.js';
export { pruneTombstones, type PruneTombstonesOptions } from './tombstones.js';
export { modelChecksums, type ModelChecksumsOptions } from './checksums.js';
export { watermelonRoutes, type WatermelonRoutesOptions, type WatermelonTableOptions } from './watermelon.js';
