/**
 * The request's audit outbox. A transition's audit events are written into the request row by the
 * same compare-and-swap that changes its state, then appended to the audit log and removed from the
 * row ("flushed"). Whatever dies in between — the process, the audit table, an index write — the
 * events are still in the row, and a later touch of the request appends them. Nothing is lost.
 *
 * Who flushes what, so that the ordinary path never appends an event twice: the call that made the
 * transition flushes its own events; a retried call (its first attempt failed or died) flushes
 * everything; anything else (the orchestration's activities, other transitions) takes only events
 * abandoned for `ABANDONED_AFTER_MS`, since a younger one's maker may still be appending it. When a
 * request ends, its orchestration sweeps until nothing waits (functions/access-request.ts).
 *
 * The price is at-least-once: a crash after an append but before the row is cleared (or a retry
 * racing its own first attempt) appends the event again. Each event carries a deterministic id
 * (`<requestId>:<action>`), stored in the audit row's `id` column, so such a duplicate is
 * recognisable (docs/audit.md).
 */
import { createHash } from 'node:crypto';
import type { AuditAction, AuditEventInput, AuditSink } from '#shared/audit/types';
import type { RequestRepository } from './repository';

/** An audit event waiting in a request row; the id names the transition, not the attempt. */
export type PendingAudit = AuditEventInput & { id: string; recordedAt: string };

/** After this long in the outbox, an event's maker is presumed gone and anyone may append it. */
export const ABANDONED_AFTER_MS = 30_000;

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

export function pending(
  requestId: string,
  event: AuditEventInput,
  recordedAt: Date,
  n?: number,
): PendingAudit {
  return { ...event, id: lifecycleEventId(requestId, event.action, n), recordedAt: recordedAt.toISOString() };
}

/**
 * Which waiting events a flush appends: the caller's own (by id) and abandoned ones, or all of them
 * (a retried call: its own first attempt is the maker it would otherwise wait for).
 */
export type FlushScope = { readonly own: readonly string[] } | 'abandoned' | 'all';

export const ownEvents = (events: readonly PendingAudit[]): FlushScope => ({ own: events.map((e) => e.id) });

/** What still waits after a flush: when its oldest event counts as abandoned, or null if none waits. */
export interface FlushResult {
  abandonedAt: string | null;
}

/**
 * Appends the request's waiting events that `scope` selects, in order, then removes the appended
 * ones from the row. Stops at the first failed append (later events wait, so the log keeps the order
 * of the transitions) and rethrows it after removing what did land.
 */
export async function flushAudit(
  repo: RequestRepository,
  audit: AuditSink,
  requestId: string,
  scope: FlushScope,
  now: Date,
): Promise<FlushResult> {
  const waiting = await repo.pendingAudit(requestId);
  const abandonedAt = (e: PendingAudit) => new Date(Date.parse(e.recordedAt) + ABANDONED_AFTER_MS);
  const selected = waiting.filter(
    (e) =>
      scope === 'all' ||
      abandonedAt(e).getTime() <= now.getTime() ||
      (typeof scope === 'object' && scope.own.includes(e.id)),
  );
  const appended: string[] = [];
  let failure: Error | undefined;
  for (const event of selected) {
    try {
      const { recordedAt: _recordedAt, ...input } = event;
      await audit.append(input);
      appended.push(event.id);
    } catch (e) {
      failure = e instanceof Error ? e : new Error(String(e));
      break;
    }
  }
  // A crash right here appends `appended` again on the next flush: at-least-once, same ids.
  if (appended.length > 0) await repo.clearAudit(requestId, appended);
  if (failure !== undefined) throw failure;
  const left = waiting.filter((e) => !appended.includes(e.id));
  const first = left.map(abandonedAt).sort((a, b) => a.getTime() - b.getTime())[0];
  return { abandonedAt: first === undefined ? null : first.toISOString() };
}
