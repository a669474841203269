/**
 * The request's audit outbox. A transition's audit events are written into the request row by the
 * same compare-and-swap that changes its state, then appended to the audit log and removed from the
 * row ("flushed"). Whatever dies in between — the process, the audit table, an index write — the
 * events are still in the row, and the next touch of the request (a retried call, the
 * orchestration's activities, a repeated submit) flushes them. Nothing is lost.
 *
 * The price is at-least-once: a crash after an append but before the row is cleared appends the
 * event again on the next flush. Each event carries a deterministic id (`<requestId>:<action>`),
 * stored in the audit row's `id` column, so such a duplicate is recognisable (docs/audit.md).
 */
import { createHash } from 'node:crypto';
import type { AuditAction, AuditEventInput, AuditSink } from '#shared/audit/types';
import type { RequestRepository } from './repository';

/** An audit event waiting in a request row; the id names the transition, not the attempt. */
export type PendingAudit = AuditEventInput & { id: string };

/** Longest audit id the log keeps (its `id` column). */
const MAX_ID = 64;

/**
 * The id of one lifecycle event of a request: `<requestId>:<action>`, plus `:<n>` for events a
 * request can have several of (the n-th recorded approval). Ids too long for the audit column
 * become the SHA-256 of that text, still deterministic.
 */
export function lifecycleEventId(requestId: string, action: AuditAction, n?: number): string {
  const id = `${requestId}:${action}${n === undefined ? '' : `:${n}`}`;
  return id.length <= MAX_ID ? id : createHash('sha256').update(id, 'utf8').digest('hex');
}

export function pending(requestId: string, event: AuditEventInput, n?: number): PendingAudit {
  return { ...event, id: lifecycleEventId(requestId, event.action, n) };
}

/**
 * Appends the request's waiting events in order, then removes the appended ones from the row. Stops
 * at the first failed append (later events wait, so the log keeps the order of the transitions) and
 * rethrows it after removing what did land.
 */
export async function flushAudit(
  repo: RequestRepository,
  audit: AuditSink,
  requestId: string,
): Promise<void> {
  const events = await repo.pendingAudit(requestId);
  if (events.length === 0) return;
  const appended: string[] = [];
  let failure: Error | undefined;
  for (const event of events) {
    try {
      await audit.append(event);
      appended.push(event.id);
    } catch (e) {
      failure = e instanceof Error ? e : new Error(String(e));
      break;
    }
  }
  // A crash right here appends `appended` again on the next flush: at-least-once, same ids.
  if (appended.length > 0) await repo.clearAudit(requestId, appended);
  if (failure !== undefined) throw failure;
}
