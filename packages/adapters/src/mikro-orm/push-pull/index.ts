export { installPushPull, ROW_VERSION_TABLE, type InstallPushPullOptions } from './row-versions.js';
export { pullChanges, type ModelChanges, type PullChangesOptions, type PulledChanges } from './pull-changes.js';
