// the same helper a user's own tests get from @entity-sync/testing
export { until } from '@entity-sync/testing';
