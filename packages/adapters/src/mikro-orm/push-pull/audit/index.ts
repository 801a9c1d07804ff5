export { AUDIT_MODEL_TABLE, AUDIT_TABLE } from './audit-tables.js';
export { installAudit, type InstallAuditOptions } from './install-audit.js';
export { setAuditActor, withAuditActor } from './audit-actor.js';
export { auditTrail, exportAuditTrail, type AuditTrailOptions, type AuditTrailPage } from './audit-trail.js';
export { auditedRowAt } from './audited-row-at.js';
export { pruneAudit, type PruneAuditOptions } from './audit-retention.js';
