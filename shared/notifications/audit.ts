/**
 * Auditing what notifications do. Best effort, unlike state changes: by the time a notification
 * is audited the message is already published or the email already sent, and failing now would
 * only send it again.
 */
import { auditSink } from '#shared/admin/audit';
import type { AuditEventInput, AuditSink } from '#shared/audit/types';

export async function auditQuietly(
  event: AuditEventInput,
  log: (message: string) => void,
  sink?: AuditSink,
): Promise<void> {
  try {
    await (sink ?? auditSink()).append(event);
  } catch (e) {
    log(
      `audit of ${event.action} for request ${event.requestId ?? '-'} failed: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}
