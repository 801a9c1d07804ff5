export type { AuditEntry, AuditOperation } from './audit-entry.js';
