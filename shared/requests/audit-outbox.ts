/**
 * The request's audit outbox. A transition's audit events are written into the request row by the
 * same compare-and-swap that changes its state, then appended to the audit log and removed from the
 * row ("flushed"). Whatever dies in between — the process, the audit table, an index write — the
 * events are still in the row, and a later touch of the request appends them.
 *
 * Who appends what: each waiting event is claimed by one flusher at a time, for `CLAIM_MS`. The call
 * that made a transition holds the claim on its events from the moment it records them (the same
 * write), and appends them. Any other touch — a retried call, an execution, the orchestration's
 * activities, its sweep when the request is finished — first claims, by compare-and-swap on the row,
 * the events whose claim has run out, then appends those. So two flushers never append the same
 * event unless one of them outlives its claim (a crash after appending but before clearing the row,
 * or a flush slower than 30 s): at-least-once, and such a duplicate carries the same deterministic
 * id (`<requestId>:<action>`, the audit row's `id` column; docs/audit.md).
 *
 * Events stay in the row until appended: if the audit is down for longer than the orchestration's
 * retries, they wait there (the request row shows them) until the next touch.
 */
import { createHash } from 'node:crypto';
import type { AuditAction, AuditEventInput, AuditSink } from '#shared/audit/types';
import type { RequestRepository } from './repository';

/**
 * An audit event waiting in a request row; the id names the transition, not the attempt.
 * `claimedUntil`: until then the flusher that claimed it (first, the call that recorded it) is the
 * only one to append it.
 */
export type PendingAudit = AuditEventInput & { id: string; recordedAt: string; claimedUntil: string };

/** How long a claim on a waiting event lasts: past it, the claimer is presumed gone. */
export const CLAIM_MS = 30_000;

const later = (at: Date, ms: number) => new Date(at.getTime() + ms).toISOString();

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
  return {
    ...event,
    id: lifecycleEventId(requestId, event.action, n),
    recordedAt: recordedAt.toISOString(),
    // The call that records the event holds the first claim on it.
    claimedUntil: later(recordedAt, CLAIM_MS),
  };
}

/**
 * Which waiting events a flush appends: the caller's own by id (it holds their claim; read from the
 * row), those it can claim, or the events the caller itself just wrote into the row (`recorded`:
 * it holds their claim and has them in hand, so the row is not read again; one round trip less on
 * every transition's critical path).
 */
export type FlushScope =
  { readonly own: readonly string[] } | { readonly recorded: readonly PendingAudit[] } | 'claimable';

export const ownEvents = (events: readonly PendingAudit[]): FlushScope => ({ recorded: events });

/**
 * What still waits after a flush: when the earliest claim on it runs out, or null if nothing waits.
 * A `recorded` flush does not read the row, so it cannot say: null.
 */
export interface FlushResult {
  claimableAt: string | null;
}

/**
 * Appends the waiting events `scope` gives this caller, in order, then removes the appended ones
 * from the row. Stops at the first failed append (later events wait, so the log keeps the order of
 * the transitions) and rethrows it after removing what did land.
 */
export async function flushAudit(
  repo: RequestRepository,
  audit: AuditSink,
  requestId: string,
  scope: FlushScope,
  now: Date,
): Promise<FlushResult> {
  const { mine, waiting } =
    scope === 'claimable'
      ? await repo.claimAudit(requestId, now, later(now, CLAIM_MS))
      : 'recorded' in scope
        ? { mine: scope.recorded, waiting: [] }
        : await repo.read(requestId).then((row) => {
            const all = row?.audit ?? [];
            return { mine: all.filter((e) => scope.own.includes(e.id)), waiting: all };
          });
  const appended: string[] = [];
  let failure: Error | undefined;
  for (const event of mine) {
    try {
      const { recordedAt: _recordedAt, claimedUntil: _claimedUntil, ...input } = event;
      await audit.append(input);
      appended.push(event.id);
    } catch (e) {
      failure = e instanceof Error ? e : new Error(String(e));
      break;
    }
  }
  // A crash right here appends `appended` again once the claim runs out: at-least-once, same ids.
  // After a failed append, the rest of this caller's claim is given up, so that a retry right away
  // (the client's, the activity's) appends them rather than waiting for the claim to run out.
  const unsent = failure === undefined ? [] : mine.filter((e) => !appended.includes(e.id)).map((e) => e.id);
  if (appended.length > 0 || unsent.length > 0) {
    const settled = repo.clearAudit(requestId, appended, unsent);
    // Giving up a claim is a courtesy: if it fails too, the claim simply runs out.
    await (failure === undefined ? settled : settled.catch(() => undefined));
  }
  if (failure !== undefined) throw failure;
  // Everything of this caller's was appended (else it threw above): what is left is others'.
  const first = waiting
    .filter((e) => !appended.includes(e.id))
    .map((e) => e.claimedUntil)
    .sort()[0];
  return { claimableAt: first ?? null };
}
