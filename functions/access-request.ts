/**
 * One orchestration per request (instance id = request id): wait for the decision or the pending
 * deadline, then hold the grant until it expires or is revoked, then end it. The request row is the
 * source of truth (every transition is a compare-and-swap on it); the orchestration sequences the
 * timers and mirrors the live state in its custom status for the execution guard.
 *
 * Built only from durable primitives: no clock but currentUtcDateTime, no I/O but activities.
 */
import * as df from 'durable-functions';
import type { ActivityHandler, OrchestrationContext, OrchestrationHandler } from 'durable-functions';
import { z } from 'zod';
import { parseOrThrow } from '#shared/domain/errors';
import { RequestStatusSchema } from '#shared/domain/request';
import {
  classified,
  OrchestrationInput,
  ORCHESTRATOR,
  PermanentFault,
  RequestEvent,
  type OrchestrationMirror,
} from '#shared/requests/orchestrations';
import {
  endGrant,
  expireRequest,
  failRequest,
  loadRequest as loadRequestStory,
  sweepAudit,
} from '#shared/requests/usecases';
import { systemContext } from '#shared/requests/wiring';

export const Activity = {
  LoadRequest: 'loadRequest',
  ExpireRequest: 'expireRequest',
  EndGrant: 'endGrant',
  /** Appends audit events a caller recorded but may have died before appending (usecases `sweepAudit`). */
  SweepAudit: 'sweepAudit',
  /** The workflow cannot go on: marks the request `failed` with the reason (usecases `failRequest`). */
  FailRequest: 'failRequest',
  /** Publishes a notification (functions/notifications.ts); never blocks a grant or its end. */
  Notify: 'notify',
} as const;

/** What the activities hand back: just what the orchestrator sequences on. */
const Snapshot = z.strictObject({
  status: RequestStatusSchema,
  pendingUntil: z.string(),
  expiresAt: z.string().nullable(),
});
type Snapshot = z.infer<typeof Snapshot>;

const Decided = z.object({ status: RequestStatusSchema });

const Swept = z.strictObject({ claimableAt: z.string().nullable() });

const FailInput = z.strictObject({ requestId: z.string().min(1).max(64), reason: z.string().min(1) });
/** Sweeps of a finished request's audit outbox, at most: each after the earliest claim on a waiting event runs out. */
const MAX_SWEEPS = 5;
const SWEEP_SLACK_MS = 2000;

/**
 * Activities read and write storage; an outage must not fail the workflow, since nothing would then
 * expire the request or end the grant (access still ends at `expiresAt`, checked at every use, but
 * the row, the live index and the audit would never say so). Doubling from 2 s to at most 5 min,
 * 20 attempts ride out about an hour of outage.
 */
const retry = Object.assign(new df.RetryOptions(2000, 20), {
  backoffCoefficient: 2,
  maxRetryIntervalInMilliseconds: 5 * 60_000,
});

/**
 * Tells the world (email, Power Automate, SIEM) what just happened. The activity bounds its own
 * time (the publisher gives up after 10 s) and a failure is only logged and audited: a notification
 * never stops the request from moving on, and deadlines are absolute instants, so a slow one does
 * not move them.
 *
 * Why not race the notice against the timers: re-yielding already scheduled tasks in a second
 * Task.any makes the SDK emit their actions again, which the Durable extension schedules twice
 * (see docs/decisions/0003-orchestration-shape.md).
 */
function notice(ctx: OrchestrationContext, requestId: string, event: string): df.Task {
  return ctx.df.callActivity(Activity.Notify, { requestId, event });
}

function* notify(ctx: OrchestrationContext, ...notices: df.Task[]): Generator<df.Task, void, unknown> {
  try {
    yield notices.length === 1 && notices[0] ? notices[0] : ctx.df.Task.all(notices);
  } catch {
    // Already logged and audited by the activity; the workflow goes on.
  }
}

/**
 * The longest timer the orchestration creates: the most the Durable extension runs as one timer on
 * Azure Storage. It runs a longer one as a chain of sub-timers, and once such a timer is cancelled
 * (the decision or the revoke won), its pending sub-timer still fires and the SDK starts the next
 * one with a task id the extension never gives it: every later completion then matches nothing and
 * the orchestration waits for ever. A deadline further off is therefore a chain of timers of at
 * most this length (docs/decisions/0003-orchestration-shape.md).
 */
const MAX_TIMER_MS = 6 * 24 * 3600 * 1000;

/**
 * Waits for the event until the deadline, with timers of at most `MAX_TIMER_MS`; true if the event
 * came first. The losing timer is cancelled (it still fires later, and the SDK ignores it). Yielding
 * the event again in each race is safe: waiting for an event takes no task id.
 */
function* eventBefore(
  ctx: OrchestrationContext,
  event: df.Task,
  deadline: string,
): Generator<df.Task, boolean, unknown> {
  const end = Date.parse(deadline);
  for (;;) {
    const stepEnd = Math.min(end, ctx.df.currentUtcDateTime.getTime() + MAX_TIMER_MS);
    const timer = ctx.df.createTimer(new Date(stepEnd));
    const winner: unknown = yield ctx.df.Task.any([event, timer]);
    if (winner === event) {
      timer.cancel();
      return true;
    }
    // Judged by the orchestration's clock, not by which step this was: an instance that started
    // under an older version replays that version's timers (DurableTask matches timers by id, not by
    // time), and one of them may end a step before the deadline; waiting on is then right.
    if (ctx.df.currentUtcDateTime.getTime() >= end) return false;
  }
}

function mirror(s: Snapshot): OrchestrationMirror {
  return { status: s.status, expiresAt: s.expiresAt, pendingUntil: s.pendingUntil };
}

/** A step that can never succeed, or whose retries ran out: the workflow cannot go on. */
class WorkflowFault extends Error {
  override readonly name = 'WorkflowFault';
}

/**
 * Calls a storage activity (retried while its failure is transient) and reads its answer; a
 * permanent failure it reports (`PermanentFault`) stops the workflow at once.
 */
function* step<S extends z.ZodType>(
  ctx: OrchestrationContext,
  activity: string,
  input: unknown,
  schema: S,
): Generator<df.Task, z.output<S>, unknown> {
  const answer: unknown = yield ctx.df.callActivityWithRetry(activity, retry, input);
  const fault = PermanentFault.safeParse(answer);
  if (fault.success) throw new WorkflowFault(`${activity}: ${fault.data.permanent}`);
  return schema.parse(answer);
}

export const accessRequest: OrchestrationHandler = function* (ctx: OrchestrationContext) {
  const { requestId, shape = 1 } = parseOrThrow(OrchestrationInput, ctx.df.getInput(), 'orchestration input');
  try {
    return yield* lifecycle(ctx, requestId, shape);
  } catch (e) {
    // A permanent fault, or a transient one that outlasted its retries (about an hour): the request
    // would otherwise stay pending, or approved with nothing to end it. Mark it failed, tell the
    // requester and the approvers, and fail the instance too, so operators see why. If even this
    // cannot be written, the reconciler (functions/reconciler.ts) finds the failed instance later.
    // The first line: a failed activity's message carries its stack after it.
    const reason =
      (e instanceof Error ? e.message : String(e)).split('\n')[0]?.trim().slice(0, 1000) ||
      'the workflow failed';
    const failed: unknown = yield ctx.df.callActivityWithRetry(Activity.FailRequest, retry, {
      requestId,
      reason,
    });
    const snapshot = Snapshot.safeParse(failed);
    if (snapshot.success) {
      ctx.df.setCustomStatus(mirror(snapshot.data));
      if (snapshot.data.status === 'failed') yield* notify(ctx, notice(ctx, requestId, 'failed'));
    }
    throw new WorkflowFault(reason);
  }
};

function* lifecycle(
  ctx: OrchestrationContext,
  requestId: string,
  shape: number,
): Generator<df.Task, string, unknown> {
  let state = yield* step(ctx, Activity.LoadRequest, requestId, Snapshot);
  ctx.df.setCustomStatus(mirror(state));

  let wasPending = false;
  if (state.status === 'pending') {
    wasPending = true;
    const decided = ctx.df.waitForExternalEvent(RequestEvent.Decided);
    yield* notify(ctx, notice(ctx, requestId, 'approvalNeeded'));
    if (
      shape >= 2
        ? yield* sweptUntil(ctx, requestId, decided, state.pendingUntil)
        : yield* eventBefore(ctx, decided, state.pendingUntil)
    ) {
      // The row is the truth; the event only says "look again".
      Decided.parse(decided.result);
      state = yield* step(ctx, Activity.LoadRequest, requestId, Snapshot);
    } else {
      // Expire unless a decision won the race: the activity answers what the row now says.
      state = yield* step(ctx, Activity.ExpireRequest, requestId, Snapshot);
    }
    ctx.df.setCustomStatus(mirror(state));
    // An approval is announced in the grant phase below, with the grant.
    if (state.status !== 'approved') yield* notify(ctx, notice(ctx, requestId, state.status));
  }

  if (state.status === 'approved' && state.expiresAt !== null) {
    const revoked = ctx.df.waitForExternalEvent(RequestEvent.Revoked);
    yield* notify(
      ctx,
      ...(wasPending ? [notice(ctx, requestId, 'approved')] : []),
      notice(ctx, requestId, 'granted'),
    );
    if (
      shape >= 2
        ? yield* sweptUntil(ctx, requestId, revoked, state.expiresAt)
        : yield* eventBefore(ctx, revoked, state.expiresAt)
    ) {
      state = yield* step(ctx, Activity.LoadRequest, requestId, Snapshot);
    } else {
      // Ending a grant always runs; it is idempotent and retried.
      state = yield* step(ctx, Activity.EndGrant, requestId, Snapshot);
    }
    ctx.df.setCustomStatus(mirror(state));
    yield* notify(ctx, notice(ctx, requestId, state.status));
  }
  // Finished (or never started: denied, canceled, expired). Audit events whose call died before
  // appending them would otherwise wait in the row for good: nothing touches a finished request
  // again. Usually nothing waits and this returns at once.
  let swept = yield* step(ctx, Activity.SweepAudit, requestId, Swept);
  for (let sweep = 2; sweep <= MAX_SWEEPS && swept.claimableAt !== null; sweep++) {
    // A little past the claim's end: the activity's clock may be behind the orchestration's.
    yield ctx.df.createTimer(new Date(Date.parse(swept.claimableAt) + SWEEP_SLACK_MS));
    swept = yield* step(ctx, Activity.SweepAudit, requestId, Swept);
  }
  return state.status;
}

/**
 * `eventBefore(event, deadline)`, and meanwhile the audit events of a call that died between
 * recording a transition and appending them (the submit, or the approval that started the grant)
 * are appended once their claim runs out, not only when the request is over, which may be days
 * away. Usually nothing waits and this is one sweep, then the wait.
 */
function* sweptUntil(
  ctx: OrchestrationContext,
  requestId: string,
  event: df.Task,
  deadline: string,
): Generator<df.Task, boolean, unknown> {
  let swept = yield* step(ctx, Activity.SweepAudit, requestId, Swept);
  for (let sweep = 2; sweep <= MAX_SWEEPS && swept.claimableAt !== null; sweep++) {
    const at = Date.parse(swept.claimableAt) + SWEEP_SLACK_MS;
    if (at >= Date.parse(deadline)) break; // the sweep at the deadline's step, or at the end, gets them
    if (yield* eventBefore(ctx, event, new Date(at).toISOString())) return true;
    swept = yield* step(ctx, Activity.SweepAudit, requestId, Swept);
  }
  return yield* eventBefore(ctx, event, deadline);
}

function snapshotOf(r: {
  status: Snapshot['status'];
  pendingUntil: string;
  expiresAt: string | null;
}): Snapshot {
  return { status: r.status, pendingUntil: r.pendingUntil, expiresAt: r.expiresAt };
}

/**
 * The activities answer a permanent failure (no such request, a row or input that fails its schema)
 * as a `PermanentFault` instead of throwing it, so the orchestrator stops at once rather than
 * retrying for an hour; transient ones (storage not answering) are thrown and retried.
 */
export const loadRequest: ActivityHandler = (input: unknown) =>
  classified(async () => snapshotOf(await loadRequestStory(systemContext(), z.string().parse(input))));

export const sweepAuditActivity: ActivityHandler = (input: unknown) =>
  classified(() => sweepAudit(systemContext(), z.string().parse(input)));

export const expireRequestActivity: ActivityHandler = (input: unknown) =>
  classified(async () => snapshotOf(await expireRequest(systemContext(), z.string().parse(input))));

export const endGrantActivity: ActivityHandler = (input: unknown) =>
  classified(async () => snapshotOf(await endGrant(systemContext(), z.string().parse(input))));

/** Null when there is no such request (nothing to mark). */
export const failRequestActivity: ActivityHandler = (input: unknown) =>
  classified(async () => {
    const { requestId, reason } = FailInput.parse(input);
    const failed = await failRequest(systemContext(), requestId, reason);
    return failed === undefined ? null : snapshotOf(failed.request);
  });

df.app.orchestration(ORCHESTRATOR, accessRequest);
df.app.activity(Activity.LoadRequest, { handler: loadRequest });
df.app.activity(Activity.ExpireRequest, { handler: expireRequestActivity });
df.app.activity(Activity.EndGrant, { handler: endGrantActivity });
df.app.activity(Activity.SweepAudit, { handler: sweepAuditActivity });
df.app.activity(Activity.FailRequest, { handler: failRequestActivity });
