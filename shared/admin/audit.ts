/**
 * Where configuration changes are audited. The one seam between the admin use cases (which take
 * an `AuditSink` parameter) and the app's audit log.
 */
import { getDeps } from '#shared/app/deps';
import type { AuditSink } from '#shared/audit/types';
import { DomainError } from '#shared/domain/errors';

function isAuditSink(value: unknown): value is AuditSink {
  return (
    typeof value === 'object' && value !== null && 'append' in value && typeof value.append === 'function'
  );
}

/**
 * The app's audit log. Without one, changes are refused (503) before anything is written: an
 * unaudited configuration change is worse than a refused one.
 */
export function auditSink(): AuditSink {
  const audit: unknown = Reflect.get(getDeps(), 'audit');
  if (isAuditSink(audit)) return audit;
  throw new DomainError(
    'UNAVAILABLE',
    'The audit log is not available, so no change can be made; try again later.',
  );
}
