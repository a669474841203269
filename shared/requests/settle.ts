/**
 * The system's own transitions for workflows of shape 3 (functions/access-request.ts), run by its
 * activities whenever it wakes — an event, a deadline, or a sweep — and idempotent, since activities
 * run at least once: whatever is due by now is applied to the row by compare-and-swap (a pending
 * request past its window expires; a waiting extension past its deadline expires; a grant past its
 * end ends, and an extension still waiting expires with it), and the workflow gets back a snapshot
 * of what it sequences on. Nothing that is not due is touched: a workflow woken early (a lost
 * event's duplicate, an extension that moved the end later) just looks again.
 *
 * Audit: each transition's events are recorded by the same write, under ids fixed by the request,
 * the action and (for extensions) the extension's number, so a retried activity appends the event
 * its first attempt recorded and never a second one (./audit-outbox.ts).
 */
import { z } from 'zod';
import { AuditAction, SYSTEM_ACTOR, type AuditEventInput } from '#shared/audit/types';
import { extensionRound, expireExtension, nextGrantDeadline } from '#shared/domain/extensions';
import {
  end,
  expire,
  isScheduled,
  pendingExtension,
  RequestStatusSchema,
  roundOf,
  type Extension,
  type Request,
} from '#shared/domain/request';
import { currentStage } from '#shared/domain/stages';
import { instantOf, isPast } from '#shared/domain/time';
import { record } from '#shared/telemetry/metrics';
import { flushAudit, lifecycleEventId, ownEvents, pending, type PendingAudit } from './audit-outbox';
import { notFound, type SystemContext } from './context';
import { ExtensionMark } from './orchestrations';
import { afterCommit } from './transition';

/** What a shape-3 workflow sequences on: the row's state, read by the activity's clock. */
export const WorkflowSnapshot = z.strictObject({
  status: RequestStatusSchema,
  pendingUntil: z.string(),
  expiresAt: z.string().nullable(),
  grantedAt: z.string().nullable(),
  /** When it was approved (null before); a grant that starts later than this was scheduled. */
  decidedAt: z.string().nullable(),
  /** The stage that decides now while pending; null otherwise. */
  currentStage: z.int().min(0).nullable(),
  /** Approved, but its start has not come yet. */
  scheduled: z.boolean(),
  /**
   * Every extension asked for, in order (at most 10): a workflow that looks once after several
   * steps (a second extension asked for before it heard how the first was decided) tells each.
   */
  extensions: z.array(ExtensionMark).max(10),
  /**
   * The grant's start came while it held: a scheduled grant past its start, whether it is still
   * approved or ended (revoked, failed, ended) after its start; its `grant.started` is then due.
   */
  startReached: z.boolean(),
  /**
   * Granted at once as emergency access: its reviewers are told at the grant. Defaults to false for
   * snapshots recorded in a workflow's history before the field existed (a replay reads them).
   */
  emergency: z.boolean().default(false),
  /**
   * The next instant the workflow must act at: the pending window's end, or the grant's start, the
   * waiting extension's deadline or the grant's end (`nextGrantDeadline`); null once final.
   */
  deadline: z.string().nullable(),
  /** When the earliest claim on audit events still waiting in the row runs out; null: none wait. */
  claimableAt: z.string().nullable(),
});
export type WorkflowSnapshot = z.infer<typeof WorkflowSnapshot>;

/** Each extension of the request as the workflow marks it, in order (empty: none asked for). */
export function extensionMarks(request: Request): ExtensionMark[] {
  return request.extensions.map((extension) => ({
    id: extension.id,
    status: extension.status,
    stage: currentStage(extensionRound(request, extension), extension.status === 'pending'),
  }));
}

/**
 * Whether the grant reached its start while it held: approved and past its start, or over (revoked,
 * failed, ended) at a later instant than its start. One revoked before (or at) its start never ran.
 */
export function reachedStart(request: Pick<Request, 'status' | 'grantedAt' | 'endedAt'>, now: Date): boolean {
  const { grantedAt, endedAt } = request;
  if (grantedAt === null || !isPast(grantedAt, now)) return false;
  if (request.status === 'approved') return true;
  return endedAt !== null && instantOf(endedAt) > instantOf(grantedAt);
}

export function snapshotOf(request: Request, now: Date, claimableAt: string | null): WorkflowSnapshot {
  return {
    status: request.status,
    pendingUntil: request.pendingUntil,
    expiresAt: request.expiresAt,
    grantedAt: request.grantedAt,
    decidedAt: request.decidedAt,
    currentStage: currentStage(roundOf(request), request.status === 'pending'),
    scheduled: isScheduled(request, now),
    extensions: extensionMarks(request),
    startReached: reachedStart(request, now),
    emergency: request.emergency,
    deadline: request.status === 'pending' ? request.pendingUntil : nextGrantDeadline(request, now),
    claimableAt,
  };
}

/** The system transitions due at `now`, with their audit events; undefined when nothing is due. */
function dueTransitions(current: Request, now: Date): { next: Request; audit: PendingAudit[] } | undefined {
  const audit: PendingAudit[] = [];
  const event = (action: AuditAction, detail?: AuditEventInput['detail'], n?: number) =>
    audit.push(
      pending(
        current.id,
        {
          action,
          actor: SYSTEM_ACTOR,
          outcome: 'success',
          requestId: current.id,
          task: current.task,
          detail,
        },
        now,
        n,
      ),
    );
  // `status`: what the grant is now, which the events topic reports (ended, when it outlived it).
  const extensionExpired = (e: Extension, status: string) =>
    event(
      AuditAction.ExtensionExpired,
      { extensionId: e.id, hours: e.hours, pendingUntil: e.pendingUntil, status },
      Number(e.id),
    );
  let next = current;
  if (next.status === 'pending' && isPast(next.pendingUntil, now)) {
    next = expire(next, now).request;
    event(AuditAction.RequestExpired);
  }
  if (next.status === 'approved') {
    // The extension that waited, if its deadline or the grant's end has come; recorded after the
    // end, with the status the grant is left in (ended, when the extension outlived it).
    const waiting = pendingExtension(next);
    const expired = expireExtension(next, now);
    if (expired.outcome === 'expired') next = expired.request;
    let lapsed = expired.outcome === 'expired' ? waiting : undefined;
    if (next.expiresAt !== null && isPast(next.expiresAt, now)) {
      // `end` also expires an extension that still waits: the grant it would extend is over.
      lapsed ??= pendingExtension(next);
      next = end(next, now).request;
      event(AuditAction.GrantEnded, { expiresAt: next.expiresAt });
    }
    if (lapsed !== undefined) extensionExpired(lapsed, next.status);
  }
  return audit.length === 0 ? undefined : { next, audit };
}

/**
 * Applies what is due on request `id` now and answers the snapshot. The events it records are
 * appended before it answers (a failure is thrown, and the activity retried); then the events a
 * dead caller left are swept, best effort: the snapshot says when to come back for what still waits.
 */
export async function settleRequest(ctx: SystemContext, id: string): Promise<WorkflowSnapshot> {
  const { request, own, was } = await ctx.repo.update(id, (current) => {
    const due = dueTransitions(current, ctx.now);
    const was = current.status;
    if (due === undefined) return { result: { request: current, own: [] as PendingAudit[], was } };
    return { next: due.next, result: { request: due.next, own: due.audit, was }, audit: due.audit };
  });
  // This call made the transition (expired, ended...): `zsa.requests` by the status it reached.
  if (own.length > 0 && request.status !== was) record.requestStatus(request.status, request.task);
  if (own.length > 0) {
    await afterCommit([
      // Out of the live index once the grant is over (an expired extension leaves it as it is).
      ...(request.status === 'ended' ? [() => ctx.repo.syncLiveIndex(request)] : []),
      () => flushAudit(ctx.repo, ctx.audit, id, ownEvents(own), ctx.now),
    ]);
  }
  const swept = await flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now).catch(() => ({
    // The audit is down: look again once a claim taken now would have run out.
    claimableAt: new Date(ctx.now.getTime() + 30_000).toISOString(),
  }));
  return snapshotOf(request, ctx.now, swept.claimableAt);
}

/**
 * A scheduled grant reached its start: `grant.started` in the audit (as the system; the approval
 * recorded `grant.scheduled`). Only when the grant did run (`reachedStart`), whatever it is now: one
 * revoked or failed after its start, before the workflow looked, did start; one revoked before its
 * start never did. The events still waiting in the row are appended first, so the log keeps the
 * order. At least once: a retry after the append landed appends it again under the same id.
 */
export async function startGrant(ctx: SystemContext, id: string): Promise<WorkflowSnapshot> {
  const stored = await ctx.repo.read(id);
  if (stored === undefined) throw notFound(id);
  const { request } = stored;
  if (reachedStart(request, ctx.now)) {
    if (stored.audit.length > 0) await flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now);
    const { grantedAt } = request;
    await afterCommit([
      async () => {
        // The grant in the live index, only while it holds. The row was read without a
        // compare-and-swap: a revoke that took the entry out since would see it put back, so the
        // row is read again and, if it is over now, the entry removed (the guard reads the row
        // anyway; this keeps the index from listing a grant that is gone).
        if (request.status !== 'approved') return;
        await ctx.repo.syncLiveIndex(request);
        const again = await ctx.repo.read(id);
        if (again !== undefined && again.request.status !== 'approved')
          await ctx.repo.syncLiveIndex(again.request);
      },
      () =>
        ctx.audit.append({
          id: lifecycleEventId(id, AuditAction.GrantStarted),
          action: AuditAction.GrantStarted,
          actor: SYSTEM_ACTOR,
          outcome: 'success',
          requestId: id,
          task: request.task,
          detail: { tasks: request.tasks, grantedAt, expiresAt: request.expiresAt, scheduled: true },
        }),
    ]);
  }
  return snapshotOf(request, ctx.now, null);
}
