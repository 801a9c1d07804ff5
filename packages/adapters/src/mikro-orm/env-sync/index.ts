export { exportReferenceData } from './export-reference-data.js';
export { pullReferenceData } from './pull-reference-data.js';
export type { ExportReferenceDataOptions, PullReferenceDataOptions, PullProgress } from './sync-options.js';
export { envSyncRoutes, pullFrom, ENV_SYNC_RIGHT, type EnvSyncRoutesOptions, type PullFromOptions } from './env-sync-http.js';
