export { createSyncMetrics, metricsRoutes, type MetricsQueue, type MetricsRoutesOptions, type SyncMetrics, type SyncMetricsOptions } from './sync-metrics.js';
export { healthChecks, healthRoutes, type HealthCheck, type HealthPart, type HealthRoutesOptions } from './health-routes.js';
export { scheduleRetention, type ScheduleRetentionOptions } from './retention-schedule.js';
