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
import { isFinal, RequestStatusSchema } from '#shared/domain/request';
import type { NotifyInput } from '#shared/notifications/messages';
import {
  classified,
  OrchestrationInput,
  ORCHESTRATOR,
  PermanentFault,
  readRequestActivityInput,
  RequestEvent,
  requestActivityInput,
  type ExtensionMark,
  type OrchestrationMirror,
  type RequestActivityInput,
} from '#shared/requests/orchestrations';
import { settleRequest, startGrant, WorkflowSnapshot } from '#shared/requests/settle';
import {
  endGrant,
  expireRequest,
  failRequest,
  loadRequest as loadRequestStory,
  sweepAudit,
} from '#shared/requests/usecases';
import { systemContext } from '#shared/requests/wiring';
import { Attr, SpanName } from '#shared/telemetry/names';
import { contextOf, inSpan } from '#shared/telemetry/spans';

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
  /** Shape 3: applies what is due (expiry, an extension's deadline, the end) and answers a snapshot. */
  SettleRequest: 'settleRequest',
  /** Shape 3: a scheduled grant reached its start (audited as `grant.started`). */
  StartGrant: 'startGrant',
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

const FailInput = z.strictObject({
  requestId: z.string().min(1).max(64),
  reason: z.string().min(1),
  traceparent: z.string().max(128).optional(),
});
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
function notice(
  ctx: OrchestrationContext,
  requestId: string,
  event: string,
  traceparent: string | undefined,
): df.Task {
  return ctx.df.callActivity(Activity.Notify, { requestId, event, ...traced(traceparent) });
}

/**
 * The trace context an activity's input carries, when the workflow was started with one (input
 * data: every replay hands the activities the same inputs).
 */
function traced(traceparent: string | undefined): { traceparent?: string } {
  return traceparent === undefined ? {} : { traceparent };
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
  const {
    requestId,
    shape = 1,
    traceparent,
  } = parseOrThrow(OrchestrationInput, ctx.df.getInput(), 'orchestration input');
  try {
    return yield* shape >= 3
      ? lifecycle3(ctx, requestId, traceparent)
      : lifecycle(ctx, requestId, shape, traceparent);
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
      ...traced(traceparent),
    });
    const snapshot = Snapshot.safeParse(failed);
    if (snapshot.success) {
      ctx.df.setCustomStatus(mirror(snapshot.data));
      if (snapshot.data.status === 'failed')
        yield* notify(ctx, notice(ctx, requestId, 'failed', traceparent));
    }
    throw new WorkflowFault(reason);
  }
};

function* lifecycle(
  ctx: OrchestrationContext,
  requestId: string,
  shape: number,
  traceparent: string | undefined,
): Generator<df.Task, string, unknown> {
  const arg = requestActivityInput(requestId, traceparent);
  let state = yield* step(ctx, Activity.LoadRequest, arg, Snapshot);
  ctx.df.setCustomStatus(mirror(state));

  let wasPending = false;
  if (state.status === 'pending') {
    wasPending = true;
    const decided = ctx.df.waitForExternalEvent(RequestEvent.Decided);
    yield* notify(ctx, notice(ctx, requestId, 'approvalNeeded', traceparent));
    if (
      shape >= 2
        ? yield* sweptUntil(ctx, arg, decided, state.pendingUntil)
        : yield* eventBefore(ctx, decided, state.pendingUntil)
    ) {
      // The row is the truth; the event only says "look again".
      Decided.parse(decided.result);
      state = yield* step(ctx, Activity.LoadRequest, arg, Snapshot);
    } else {
      // Expire unless a decision won the race: the activity answers what the row now says.
      state = yield* step(ctx, Activity.ExpireRequest, arg, Snapshot);
    }
    ctx.df.setCustomStatus(mirror(state));
    // An approval is announced in the grant phase below, with the grant.
    if (state.status !== 'approved') yield* notify(ctx, notice(ctx, requestId, state.status, traceparent));
  }

  if (state.status === 'approved' && state.expiresAt !== null) {
    const revoked = ctx.df.waitForExternalEvent(RequestEvent.Revoked);
    yield* notify(
      ctx,
      ...(wasPending ? [notice(ctx, requestId, 'approved', traceparent)] : []),
      notice(ctx, requestId, 'granted', traceparent),
    );
    if (
      shape >= 2
        ? yield* sweptUntil(ctx, arg, revoked, state.expiresAt)
        : yield* eventBefore(ctx, revoked, state.expiresAt)
    ) {
      state = yield* step(ctx, Activity.LoadRequest, arg, Snapshot);
    } else {
      // Ending a grant always runs; it is idempotent and retried.
      state = yield* step(ctx, Activity.EndGrant, arg, Snapshot);
    }
    ctx.df.setCustomStatus(mirror(state));
    yield* notify(ctx, notice(ctx, requestId, state.status, traceparent));
  }
  // Finished (or never started: denied, canceled, expired). Audit events whose call died before
  // appending them would otherwise wait in the row for good: nothing touches a finished request
  // again. Usually nothing waits and this returns at once.
  let swept = yield* step(ctx, Activity.SweepAudit, arg, Swept);
  for (let sweep = 2; sweep <= MAX_SWEEPS && swept.claimableAt !== null; sweep++) {
    // A little past the claim's end: the activity's clock may be behind the orchestration's.
    yield ctx.df.createTimer(new Date(Date.parse(swept.claimableAt) + SWEEP_SLACK_MS));
    swept = yield* step(ctx, Activity.SweepAudit, arg, Swept);
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
  arg: RequestActivityInput,
  event: df.Task,
  deadline: string,
): Generator<df.Task, boolean, unknown> {
  let swept = yield* step(ctx, Activity.SweepAudit, arg, Swept);
  for (let sweep = 2; sweep <= MAX_SWEEPS && swept.claimableAt !== null; sweep++) {
    const at = Date.parse(swept.claimableAt) + SWEEP_SLACK_MS;
    if (at >= Date.parse(deadline)) break; // the sweep at the deadline's step, or at the end, gets them
    if (yield* eventBefore(ctx, event, new Date(at).toISOString())) return true;
    swept = yield* step(ctx, Activity.SweepAudit, arg, Swept);
  }
  return yield* eventBefore(ctx, event, deadline);
}

/** What a shape-3 workflow has told so far, to tell only what changed. */
interface Told {
  status: WorkflowSnapshot['status'];
  /** The stage whose approvers were asked. */
  stage: number | null;
  /** Each extension as it was told, in order. */
  extensions: ExtensionMark[];
  /** `approved` and `granted` were told. */
  granted: boolean;
  /** The grant's start was audited and told (or needed not be: it started at its approval). */
  started: boolean;
}

/** Consecutive looks at a deadline the activity's clock has not reached yet, before the workflow gives up. */
const MAX_EARLY_LOOKS = 20;
/** The first pause before looking again at such a deadline; it doubles, up to five minutes. */
const EARLY_PAUSE_MS = 500;

/**
 * Shape 3: one loop over the request row. Each time the workflow wakes — an event, a deadline or a
 * sweep of the audit outbox — the settle activity applies what is due and answers a snapshot; the
 * workflow tells what changed since the last one (the stage that opened, the approval, the grant's
 * start, each step of an extension, the end) and waits again: while pending for a decision or the
 * window's end, while approved for a revoke, a change to the grant (an extension, the last use of a
 * counted grant) or its next deadline (`nextGrantDeadline`: the start, the waiting extension's
 * deadline, the end). Events only say "look again": the row says what happened, so a lost event
 * costs a wait until the next deadline (or the reconciler's nudge), never an outcome.
 */
function* lifecycle3(
  ctx: OrchestrationContext,
  requestId: string,
  traceparent: string | undefined,
): Generator<df.Task, string, unknown> {
  const arg = requestActivityInput(requestId, traceparent);
  let state = yield* step(ctx, Activity.SettleRequest, arg, WorkflowSnapshot);
  const wasPending = state.status === 'pending';
  let told: Told = { status: state.status, stage: null, extensions: [], granted: false, started: false };
  const waits = new Waits(ctx);
  let sweeps = 0;
  let early = 0;
  for (;;) {
    const news = newsOf(requestId, told, state, wasPending);
    told = news.told;
    ctx.df.setCustomStatus(mirror3(state, told));
    if (news.start) yield* step(ctx, Activity.StartGrant, arg, WorkflowSnapshot);
    if (news.notices.length > 0)
      yield* notify(
        ctx,
        ...news.notices.map((n) => ctx.df.callActivity(Activity.Notify, { ...n, ...traced(traceparent) })),
      );
    if (isFinal(state.status) || state.deadline === null) break;

    const now = ctx.df.currentUtcDateTime.getTime();
    let deadline = Date.parse(state.deadline);
    if (deadline <= now) {
      // Due by the orchestration's clock, not yet by the activity's (they may differ a little):
      // look again shortly rather than spin.
      if (++early > MAX_EARLY_LOOKS)
        throw new WorkflowFault(`the deadline ${state.deadline} passed but the request did not move`);
      deadline = now + Math.min(EARLY_PAUSE_MS * 2 ** (early - 1), 5 * 60_000);
    } else early = 0;
    // Audit events a dead caller left: swept once their claim runs out, a few times at most.
    const sweepAt =
      state.claimableAt !== null && sweeps < MAX_SWEEPS - 1
        ? Date.parse(state.claimableAt) + SWEEP_SLACK_MS
        : Infinity;
    const events =
      state.status === 'pending' ? [RequestEvent.Decided] : [RequestEvent.Revoked, RequestEvent.GrantChanged];
    if (yield* wake(ctx, waits, events, Math.min(deadline, sweepAt))) sweeps = 0;
    else if (sweepAt < deadline) sweeps++;
    state = yield* step(ctx, Activity.SettleRequest, arg, WorkflowSnapshot);
  }
  let swept = yield* step(ctx, Activity.SweepAudit, arg, Swept);
  for (let sweep = 2; sweep <= MAX_SWEEPS && swept.claimableAt !== null; sweep++) {
    yield ctx.df.createTimer(new Date(Date.parse(swept.claimableAt) + SWEEP_SLACK_MS));
    swept = yield* step(ctx, Activity.SweepAudit, arg, Swept);
  }
  return state.status;
}

/**
 * The workflow's waits for events, each yielded in one race only. The SDK files every yield of an
 * event task under the event's name and hands an event to the newest entry, completed or not: a
 * task raced twice leaves an entry behind once it fires, which would swallow the next event of
 * that name. So each race waits with new tasks, and an event that comes between races (while an
 * activity or a notice runs) completes the newest earlier one, which `heard` finds.
 */
class Waits {
  private readonly open = new Map<string, df.Task[]>();
  constructor(private readonly ctx: OrchestrationContext) {}

  /** New waits for `names`, for one race. */
  fresh(names: readonly string[]): df.Task[] {
    return names.map((name) => {
      const task = this.ctx.df.waitForExternalEvent(name);
      this.open.set(name, [...(this.open.get(name) ?? []), task]);
      return task;
    });
  }

  /** Whether one of `names` came since the last look; what came is spent. */
  heard(names: readonly string[]): boolean {
    let came = false;
    for (const name of names) {
      const tasks = this.open.get(name) ?? [];
      const waiting = tasks.filter((t) => !t.isCompleted);
      came ||= waiting.length < tasks.length;
      this.open.set(name, waiting);
    }
    return came;
  }
}

/**
 * Waits until one of the events `names` comes or `until` passes, with timers of at most
 * `MAX_TIMER_MS`; true if an event came (also one that came since the last wait).
 */
function* wake(
  ctx: OrchestrationContext,
  waits: Waits,
  names: readonly string[],
  until: number,
): Generator<df.Task, boolean, unknown> {
  for (;;) {
    if (waits.heard(names)) return true;
    const now = ctx.df.currentUtcDateTime.getTime();
    if (now >= until) return false;
    const timer = ctx.df.createTimer(new Date(Math.min(until, now + MAX_TIMER_MS)));
    const winner: unknown = yield ctx.df.Task.any([...waits.fresh(names), timer]);
    if (winner !== timer) {
      timer.cancel();
      waits.heard(names);
      return true;
    }
  }
}

const sameMark = (a: ExtensionMark, b: ExtensionMark | undefined): boolean =>
  a.id === b?.id && a.status === b.status && a.stage === b.stage;

/** The notice for an extension at `mark`'s step. */
function extensionNotice(mark: ExtensionMark): Omit<NotifyInput, 'requestId'> {
  const extensionId = mark.id;
  switch (mark.status) {
    case 'pending':
      return { event: 'extensionRequested', extensionId, stage: mark.stage ?? 0 };
    case 'approved':
      return { event: 'extensionApproved', extensionId };
    case 'denied':
      return { event: 'extensionDenied', extensionId };
    case 'expired':
      return { event: 'extensionExpired', extensionId };
    case 'canceled':
      return { event: 'extensionCanceled', extensionId };
  }
}

/** A grant set to start after its approval (`startAt`): its start is the workflow's to audit and tell. */
const startsLater = (s: WorkflowSnapshot): boolean =>
  s.grantedAt !== null && s.decidedAt !== null && Date.parse(s.grantedAt) > Date.parse(s.decidedAt);

/** What to tell after a look at the row, given what was told before. Pure. */
function newsOf(
  requestId: string,
  told: Told,
  s: WorkflowSnapshot,
  wasPending: boolean,
): { told: Told; notices: NotifyInput[]; start: boolean } {
  const notices: NotifyInput[] = [];
  const say = (event: NotifyInput['event'], extra: Partial<NotifyInput> = {}) =>
    notices.push({ requestId, event, ...extra });
  let { stage, granted, started } = told;
  if (s.status === 'pending' && s.currentStage !== null && s.currentStage !== stage) {
    stage = s.currentStage;
    say('approvalNeeded', { stage });
  }
  if (s.status === 'approved' && !granted) {
    if (wasPending) say('approved');
    say('granted');
    // An emergency use: every reviewer hears of it at once, with how to review it.
    if (s.emergency) say('emergencyUsed');
    granted = true;
    started = !startsLater(s);
  }
  // A scheduled grant whose start came while it held: its start is audited (and told, if it still
  // runs) even when it was revoked or failed after its start before the workflow looked.
  const start = !started && startsLater(s) && s.startReached;
  if (start) {
    started = true;
    if (s.status === 'approved') say('started');
  }
  // Each extension whose step moved on since it was told, in order: one look may find several (the
  // first decided while its event was lost, then a second asked for). Only its step now is told.
  for (const mark of s.extensions) {
    const before = told.extensions.find((m) => m.id === mark.id);
    if (!sameMark(mark, before)) notices.push({ requestId, ...extensionNotice(mark) });
  }
  if (s.status !== 'pending' && s.status !== 'approved' && !isFinal(told.status)) say(s.status);
  return { told: { status: s.status, stage, extensions: s.extensions, granted, started }, notices, start };
}

function mirror3(s: WorkflowSnapshot, told: Told): OrchestrationMirror {
  return {
    status: s.status,
    expiresAt: s.expiresAt,
    pendingUntil: s.pendingUntil,
    grantedAt: s.grantedAt,
    stage: told.stage,
    extensions: told.extensions,
  };
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
  workflowStep(Activity.LoadRequest, input, async (id) =>
    snapshotOf(await loadRequestStory(systemContext(), id)),
  );

export const sweepAuditActivity: ActivityHandler = (input: unknown) =>
  workflowStep(Activity.SweepAudit, input, (id) => sweepAudit(systemContext(), id));

export const expireRequestActivity: ActivityHandler = (input: unknown) =>
  workflowStep(Activity.ExpireRequest, input, async (id) =>
    snapshotOf(await expireRequest(systemContext(), id)),
  );

export const endGrantActivity: ActivityHandler = (input: unknown) =>
  workflowStep(Activity.EndGrant, input, async (id) => snapshotOf(await endGrant(systemContext(), id)));

export const settleRequestActivity: ActivityHandler = (input: unknown) =>
  workflowStep(Activity.SettleRequest, input, (id) => settleRequest(systemContext(), id));

export const startGrantActivity: ActivityHandler = (input: unknown) =>
  workflowStep(Activity.StartGrant, input, (id) => startGrant(systemContext(), id));

/** Null when there is no such request (nothing to mark). */
export const failRequestActivity: ActivityHandler = (input: unknown) =>
  classified(async () => {
    const { requestId, reason, traceparent } = FailInput.parse(input);
    return traceStep(Activity.FailRequest, requestId, traceparent, async () => {
      const failed = await failRequest(systemContext(), requestId, reason);
      return failed === undefined ? null : snapshotOf(failed.request);
    });
  });

/**
 * An activity on one request: its input read (a bare id, or with the workflow's trace context),
 * its work traced as `zsa.workflow.<activity>`, its permanent failures answered (`classified`).
 */
function workflowStep<T>(
  activity: string,
  input: unknown,
  work: (requestId: string) => Promise<T>,
): Promise<T | PermanentFault> {
  return classified(() => {
    const { requestId, traceparent } = readRequestActivityInput(input);
    return traceStep(activity, requestId, traceparent, () => work(requestId));
  });
}

/** `work` in the span `zsa.workflow.<activity>`, a child of the submit's when the workflow carries it. */
function traceStep<T>(
  activity: string,
  requestId: string,
  traceparent: string | undefined,
  work: () => Promise<T>,
): Promise<T> {
  return inSpan(
    SpanName.workflow(activity),
    { [Attr.RequestId]: requestId },
    async (span) => {
      const result = await work();
      const status = z.object({ status: z.string() }).safeParse(result);
      if (status.success) span.set({ [Attr.Status]: status.data.status });
      return result;
    },
    contextOf(traceparent),
  );
}

df.app.orchestration(ORCHESTRATOR, accessRequest);
df.app.activity(Activity.LoadRequest, { handler: loadRequest });
df.app.activity(Activity.ExpireRequest, { handler: expireRequestActivity });
df.app.activity(Activity.EndGrant, { handler: endGrantActivity });
df.app.activity(Activity.SweepAudit, { handler: sweepAuditActivity });
df.app.activity(Activity.FailRequest, { handler: failRequestActivity });
df.app.activity(Activity.SettleRequest, { handler: settleRequestActivity });
df.app.activity(Activity.StartGrant, { handler: startGrantActivity });
