export { installPushPull, ROW_VERSION_TABLE, type InstallPushPullOptions } from './row-versions.js';
export { pullChanges, type ModelChanges, type PullChangesOptions, type PulledChanges } from './pull-changes.js';
export { pushPullRoutes, PUSH_PULL_PULL_RIGHT, type PushPullRoutesOptions } from './push-pull-http.js';
