/**
 * Where configuration changes are audited. The one seam between the admin use cases (which take
 * an `AuditSink` parameter) and the app's audit log.
 */
import { getDeps } from '#shared/app/deps';
import type { AuditSink } from '#shared/audit/types';

/** The app's audit log; every configuration change is appended to it. */
export function auditSink(): AuditSink {
  return getDeps().audit;
}
