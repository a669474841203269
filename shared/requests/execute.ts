/**
 * The guarded execution (`POST /api/execute`): check the grant first — at use time, against
 * `expiresAt` and the orchestration's live state, never left to the timer — then audit the intent
 * (no audit, no run), run the task with ZSA's own identity, and audit the outcome.
 *
 * Under a counted grant (`maxUses`), the execution first takes a use by compare-and-swap on the
 * request row (shared/domain/uses.ts), before the intent is audited; its outcome is recorded on the
 * row by the same write as the execution's row: a success counts the use (the last one ends the
 * grant), a failure gives it back. An uncounted grant pays none of this.
 */
import { randomUUID } from 'node:crypto';
import { AuditAction, SYSTEM_ACTOR, type AuditSink } from '#shared/audit/types';
import { assertParameters, type Task } from '#shared/domain/catalog';
import { DomainError, isDomainError } from '#shared/domain/errors';
import { isSystemAccount } from '#shared/domain/pam';
import {
  pendingExtension,
  requireCoveringGrant,
  USES_EXHAUSTED,
  type ExecuteBody,
  type Extension,
  type Request,
  type Transition,
} from '#shared/domain/request';
import { admitUse, settleUse } from '#shared/domain/uses';
import type { Bus } from '#shared/adapters/servicebus';
import {
  assertAllowedTarget,
  callWebhook,
  type ExecutionOutcome,
  type ExecutionPayload,
} from '#shared/executors/webhook';
import { record } from '#shared/telemetry/metrics';
import { Attr, SpanName } from '#shared/telemetry/names';
import { inSpan, telemetryStarted } from '#shared/telemetry/spans';
import { RequestEvent, type OrchestrationState, type Orchestrations } from './orchestrations';
import { flushAudit, ownEvents, pending, type PendingAudit } from './audit-outbox';
import type { RequestRepository, StoredExecution, StoredRequest, TaggedRequest } from './repository';
import { afterCommit, together } from './transition';
import type { Caller, ConfigReader } from './context';

export interface ExecuteContext {
  repo: RequestRepository;
  config: ConfigReader;
  orchestrations: Orchestrations;
  audit: AuditSink;
  bus: () => Bus;
  now: () => Date;
  webhook: { allowedHosts: readonly string[]; signingKey: string | undefined; timeoutMs: number };
  /** `ZSA_ADMINS_EXECUTE_WHILE_DISABLED`: whether admins keep standing execution while PAM is off. */
  adminsExecuteWhileDisabled: boolean;
}

export interface ExecutionResult {
  executionId: string;
  requestId: string | null;
  task: string;
  status: 'succeeded';
  result: unknown;
  executedAt: string;
}

/** Why the caller may run this task now: a live grant, a system account, or admin standing access while disabled. */
type Basis = { kind: 'grant'; request: Request } | { kind: 'systemAccount' } | { kind: 'standingAdmin' };

export class ExecutionFailedError extends Error {
  constructor(
    readonly executionId: string,
    readonly reason: string,
  ) {
    super(`The task ran but failed: ${reason}. Execution id: ${executionId}.`);
  }
}

/**
 * `POST /api/execute`: the guard, then the executor. Traced as `zsa.execute` (the webhook call
 * carries its trace context), counted in `zsa.executions` and timed in `zsa.execution.duration` by
 * outcome: `succeeded`, `failed` (the task ran and failed), `refused`, or `error` (ZSA could not
 * tell: storage or the audit down). A refused task's name is the caller's input, so it is left out.
 */
export async function execute(
  ctx: ExecuteContext,
  caller: Caller,
  body: ExecuteBody,
  // `exemptions: false` for an AI agent's run (shared/agents/tools.ts): then only a live grant
  // covers it, never a system account's exemption or an admin's standing access.
  { exemptions = true }: { exemptions?: boolean } = {},
): Promise<ExecutionResult> {
  const started = performance.now();
  return inSpan(SpanName.Execute, { [Attr.RequestId]: body.requestId }, async (span) => {
    try {
      const result = await guardedExecute(ctx, caller, body, exemptions);
      span.set({
        [Attr.RequestId]: result.requestId ?? undefined,
        [Attr.Task]: result.task,
        [Attr.Outcome]: 'succeeded',
      });
      record.execution('succeeded', performance.now() - started, result.task);
      return result;
    } catch (e) {
      const ran = e instanceof ExecutionFailedError;
      const outcome = ran ? 'failed' : isDomainError(e) && e.kind !== 'unavailable' ? 'refused' : 'error';
      span.set({ [Attr.Outcome]: outcome, ...(ran ? { [Attr.Task]: body.task } : {}) });
      record.execution(outcome, performance.now() - started, ran ? body.task : undefined);
      throw e;
    }
  });
}

async function guardedExecute(
  ctx: ExecuteContext,
  caller: Caller,
  body: ExecuteBody,
  exemptions: boolean,
): Promise<ExecutionResult> {
  const now = ctx.now();
  const executionId = randomUUID();
  const refuse = async (error: DomainError): Promise<never> => {
    await ctx.audit.append({
      action: AuditAction.ExecutionRefused,
      actor: caller.actor,
      outcome: 'refused',
      requestId: body.requestId,
      task: body.task,
      reason: `${error.code}: ${error.message}`,
      detail: { executionId, parameters: body.parameters ?? {} },
      origin: caller.origin,
    });
    throw error;
  };

  // The reads the decision needs, side by side (the workflow's state too, when the request is named).
  const [config, task, candidates, namedState] = await Promise.all([
    ctx.config.pamConfig(),
    ctx.config.task(body.task),
    candidateGrants(ctx, caller.principal.id, body.requestId),
    body.requestId === undefined ? undefined : ctx.orchestrations.state(body.requestId),
  ]);

  let basis: Basis;
  try {
    basis = await authorize(ctx, caller, body, config, candidates, now, namedState, exemptions);
    if (!task) throw new DomainError('NOT_FOUND', `The catalog has no task ${JSON.stringify(body.task)}`);
    assertParameters(task, body.parameters ?? {});
    // An executor that could never be called is refused before the intent is audited.
    if (task.executor.type === 'webhook') {
      assertAllowedTarget(task.executor.url, ctx.webhook.allowedHosts);
      if (!ctx.webhook.signingKey) {
        throw new DomainError(
          'UNAVAILABLE',
          'ZSA_WEBHOOK_SIGNING_KEY is not set, so no webhook can be signed',
        );
      }
    }
  } catch (e) {
    if (e instanceof DomainError && e.kind !== 'unavailable') return refuse(e);
    throw e;
  }

  const request = basis.kind === 'grant' ? basis.request : undefined;
  // A counted grant: this execution takes a use first, so that concurrent ones never exceed it.
  let admitted: Admitted | undefined;
  if (request !== undefined && request.maxUses !== null) {
    const from = candidates.find((c) => c.request.id === request.id);
    try {
      admitted = await admit(ctx, from, request.id, executionId, now);
    } catch (e) {
      if (e instanceof DomainError && e.kind !== 'unavailable') return refuse(e);
      throw e;
    }
  }
  const payload: ExecutionPayload = {
    executionId,
    requestId: request?.id ?? null,
    task: task.name,
    parameters: body.parameters ?? {},
    requestedBy: caller.principal.upn,
    approvedBy: request?.approvals.filter((a) => a.decision === 'approve').map((a) => a.approver) ?? [],
    grantExpiresAt: request?.expiresAt ?? null,
  };

  // Fail closed: if the intent cannot be audited, nothing runs.
  try {
    await ctx.audit.append({
      action: AuditAction.ExecutionStarted,
      actor: caller.actor,
      outcome: 'success',
      requestId: payload.requestId ?? undefined,
      task: task.name,
      detail: {
        executionId,
        basis: basis.kind,
        parameters: payload.parameters,
        executor: task.executor.type,
      },
      origin: caller.origin,
    });
  } catch (e) {
    // Nothing ran: the use goes back (if that fails too, it stays held: fail closed).
    if (admitted)
      await ctx.repo
        .updateFrom(admitted.row, admitted.id, (current) =>
          settled(settleUse(current, executionId, false, now)),
        )
        .catch(() => undefined);
    throw new DomainError(
      'UNAVAILABLE',
      'The audit log cannot be written, so nothing was executed; try again shortly.',
      { cause: e },
    );
  }

  const outcome = await run(ctx, task, payload, now);
  const executedAt = ctx.now().toISOString();
  const execution: StoredExecution | undefined = request && {
    requestId: request.id,
    executionId,
    task: task.name,
    status: outcome.ok ? 'succeeded' : 'failed',
    executedAt,
  };
  // The outcome is audited and listed on the request together; both must land before we answer.
  await Promise.all([
    ctx.audit.append({
      action: outcome.ok ? AuditAction.ExecutionSucceeded : AuditAction.ExecutionFailed,
      actor: caller.actor,
      outcome: outcome.ok ? 'success' : 'failure',
      requestId: payload.requestId ?? undefined,
      task: task.name,
      reason: outcome.ok ? undefined : outcome.reason,
      detail: { executionId },
      origin: caller.origin,
    }),
    execution && admitted
      ? settle(ctx, caller, admitted, execution, useEffectOf(outcome))
      : execution
        ? ctx.repo.recordExecution(execution)
        : undefined,
    outcome.ok && request ? firstUse(ctx, request, executionId, executedAt) : undefined,
  ]);
  if (!outcome.ok) throw new ExecutionFailedError(executionId, outcome.reason);
  return {
    executionId,
    requestId: payload.requestId,
    task: task.name,
    status: 'succeeded',
    result: outcome.result,
    executedAt,
  };
}

/**
 * `zsa.first_use.duration`, when this is the grant's first successful execution: its earlier ones
 * are read beside the outcome's writes (no added wait), and only while the SDK runs (telemetry
 * off reads nothing; trace sampling does not matter). Best effort: two first uses at the same moment may both count.
 */
async function firstUse(
  ctx: ExecuteContext,
  request: Request,
  executionId: string,
  executedAt: string,
): Promise<void> {
  if (!telemetryStarted() || request.grantedAt === null) return;
  const earlier = await ctx.repo.executions(request.id).catch(() => undefined);
  if (earlier === undefined || earlier.some((e) => e.status === 'succeeded' && e.executionId !== executionId))
    return;
  record.firstUse((Date.parse(executedAt) - Date.parse(request.grantedAt)) / 1000, request.task);
}

/**
 * The caller's candidate grants, with the audit events waiting in each row and its ETag (same
 * read): a counted grant's use is taken by a write against this read.
 */
async function candidateGrants(
  ctx: ExecuteContext,
  requesterId: string,
  requestId: string | undefined,
): Promise<TaggedRequest[]> {
  const ids = requestId ? [requestId] : await ctx.repo.liveIds(requesterId);
  const rows = await Promise.all(ids.map((id) => ctx.repo.readTagged(id)));
  return rows.filter((r): r is TaggedRequest => r !== undefined);
}

/** A use rule's answer as a row change: the next request when it changed, else the answer alone. */
function settled<T extends { outcome: string; request: Request }>(t: T) {
  return t.outcome === 'unchanged' ? { result: t } : { next: t.request, result: t };
}

/** A use taken: of which request, and its row as that write left it (for the next write's first attempt). */
interface Admitted {
  id: string;
  row: TaggedRequest | undefined;
}

/**
 * Takes a use of counted grant `id` for this execution, writing against the row as the guard read
 * it (one round trip unless another execution wrote in between). Throws the refusal
 * (USES_IN_FLIGHT, NO_ACTIVE_GRANT).
 */
async function admit(
  ctx: ExecuteContext,
  from: TaggedRequest | undefined,
  id: string,
  executionId: string,
  now: Date,
): Promise<Admitted> {
  const { result, row } = await ctx.repo.updateFrom<Transition<'admitted'>>(from, id, (current) => {
    const t = admitUse(current, executionId, now);
    return t.kind === 'applied' ? { next: t.request, result: t } : { result: t };
  });
  if (result.kind === 'refused') throw result.refusal;
  // `alreadyApplied`: a retried write of ours had landed; the use is held all the same.
  return { id, row };
}

/** What an execution's outcome does to a counted grant's use. */
type UseEffect = 'used' | 'returned' | 'held';

/**
 * The use follows what the executor may have done: a success, or a 2xx whose answer could not be
 * read, used it; a call that never reached the executor, or that it answered as failed, gives it
 * back; a call sent without an answer (a timeout, a lost connection) keeps it held — the task may
 * have run, and the count must never be exceeded.
 */
function useEffectOf(outcome: ExecutionOutcome): UseEffect {
  if (outcome.ok || outcome.effect === 'ran') return 'used';
  return outcome.effect === 'none' ? 'returned' : 'held';
}

/**
 * Records the outcome of an execution under a counted grant, with its execution row, in one write:
 * a use counts, goes back or stays held (`useEffectOf`). A counted use is audited
 * (`grant.useCounted`), written into the row's outbox by the same write, so a crash right after
 * loses nothing (the workflow's sweep appends it); it is appended at once, and the outbox cleared
 * behind the answer. The last use ends the grant: its events wait in the row until appended, the
 * live index forgets it and the orchestration is told. Those follow-ups are best effort — the row
 * already says `ended`, which the guard reads, and the orchestration's own end finds the grant over
 * (no second `grant.ended`: the event's id is the one it would use).
 */
async function settle(
  ctx: ExecuteContext,
  caller: Caller,
  admitted: Admitted,
  execution: StoredExecution,
  effect: UseEffect,
): Promise<void> {
  const { id } = admitted;
  if (effect === 'held') {
    // The use stays taken (as after a crash mid-run); only the execution is listed.
    await ctx.repo.recordExecution(execution);
    return;
  }
  const at = ctx.now();
  const { result } = await ctx.repo.updateFrom(
    admitted.row,
    id,
    (current) => {
      const t = settleUse(current, execution.executionId, effect === 'used', at);
      if (t.outcome === 'unchanged' || t.outcome === 'returned') return settled(t);
      const waiting = t.outcome === 'exhausted' ? pendingExtension(current) : undefined;
      const audit = [
        useCounted(t.request, caller, execution.executionId, at),
        ...(t.outcome === 'exhausted' ? [usesExhausted(t.request, at)] : []),
        ...(waiting === undefined ? [] : [extensionCanceled(t.request, waiting, at)]),
      ];
      return { next: t.request, result: t, audit };
    },
    execution,
  );
  const next = result.request;
  if (result.outcome === 'counted') {
    const own = useCounted(next, caller, execution.executionId, at);
    const { recordedAt: _r, claimedUntil: _c, ...event } = own;
    await ctx.audit.append(event);
    // Behind the answer: an event left in the outbox is appended again by the next sweep (same id).
    void ctx.repo.clearAudit(id, [own.id]).catch(() => undefined);
  } else if (
    result.outcome === 'exhausted' ||
    (result.outcome === 'unchanged' && next.endReason === USES_EXHAUSTED)
  ) {
    // `unchanged` with the grant used up: a retry of a write that had landed (its answer lost), so
    // its follow-ups may not have run; they are idempotent.
    const canceled = next.extensions.find((e) => e.status === 'canceled' && e.decidedAt === at.toISOString());
    const events = [
      useCounted(next, caller, execution.executionId, at),
      usesExhausted(next, at),
      ...(canceled === undefined ? [] : [extensionCanceled(next, canceled, at)]),
    ];
    await afterCommit([
      together([
        () => ctx.repo.syncLiveIndex(next),
        () =>
          flushAudit(
            ctx.repo,
            ctx.audit,
            id,
            result.outcome === 'exhausted' ? ownEvents(events) : 'claimable',
            at,
          ),
      ]),
      () => ctx.orchestrations.raise(id, RequestEvent.GrantChanged, { status: next.status }),
    ]).catch(() => undefined);
  }
}

/** `grant.useCounted`: the n-th use of a counted grant (its id names the grant and n). */
function useCounted(request: Request, caller: Caller, executionId: string, at: Date): PendingAudit {
  return pending(
    request.id,
    {
      action: AuditAction.UseCounted,
      actor: caller.actor,
      outcome: 'success',
      requestId: request.id,
      task: request.task,
      detail: { executionId, uses: request.uses, maxUses: request.maxUses },
      origin: caller.origin,
    },
    at,
    request.uses,
  );
}

/**
 * `extension.canceled` of the extension that waited when the last use ran: nothing is left to
 * extend. By the system (the use's caller did not cancel it), under the id the extension's other
 * cancels use, so it is recorded once whichever way it went.
 */
function extensionCanceled(request: Request, extension: Extension, at: Date): PendingAudit {
  return pending(
    request.id,
    {
      action: AuditAction.ExtensionCanceled,
      actor: SYSTEM_ACTOR,
      outcome: 'success',
      requestId: request.id,
      task: request.task,
      reason: USES_EXHAUSTED,
      detail: {
        extensionId: extension.id,
        hours: extension.hours,
        expiresAt: request.expiresAt,
        status: request.status,
      },
    },
    at,
    Number(extension.id),
  );
}

/** `grant.ended` of a grant whose last use ran: a system transition, with the id the orchestration's end would give it. */
function usesExhausted(request: Request, at: Date): PendingAudit {
  return pending(
    request.id,
    {
      action: AuditAction.GrantEnded,
      actor: SYSTEM_ACTOR,
      outcome: 'success',
      requestId: request.id,
      task: request.task,
      reason: USES_EXHAUSTED,
      detail: { expiresAt: request.expiresAt, uses: request.uses, maxUses: request.maxUses },
    },
    at,
  );
}

async function authorize(
  ctx: ExecuteContext,
  caller: Caller,
  body: ExecuteBody,
  config: Awaited<ReturnType<ConfigReader['pamConfig']>>,
  candidates: StoredRequest[],
  now: Date,
  namedState: OrchestrationState | undefined,
  exemptions: boolean,
): Promise<Basis> {
  if (!config.enabled) {
    // With privileged access off, admins keep standing access unless the deployment chose a full
    // stop; nobody else has any.
    if (exemptions && caller.principal.isAdmin && ctx.adminsExecuteWhileDisabled)
      return { kind: 'standingAdmin' };
    throw new DomainError(
      'NO_ACTIVE_GRANT',
      ctx.adminsExecuteWhileDisabled
        ? 'Privileged access is disabled; only admins may execute tasks'
        : 'Privileged access is disabled; nobody may execute tasks',
    );
  }
  if (exemptions && isSystemAccount(config, caller.principal.id)) return { kind: 'systemAccount' };
  const wanted = {
    requester: caller.principal.upn,
    requesterId: caller.principal.id,
    task: body.task,
    parameters: body.parameters,
  };
  const request = requireCoveringGrant(
    candidates.map((c) => c.request),
    { ...wanted, requestId: body.requestId },
    now,
  );
  // The row says approved and unexpired; the workflow must agree that the grant is live.
  let state = body.requestId === request.id ? namedState : await ctx.orchestrations.state(request.id);
  if (state?.running === true && state.mirror?.status === 'pending') {
    state = await nudge(ctx, request, now);
    if (state?.running === true && state.mirror?.status === 'pending') {
      throw new DomainError(
        'UNAVAILABLE',
        `The grant of request ${request.id} is being activated; try again in a second.`,
        { retryAfterSeconds: 1 },
      );
    }
    // Time passed while waiting: the grant must still be live now (a revoke, the expiry).
    const fresh = (await ctx.repo.read(request.id))?.request;
    requireCoveringGrant(fresh ? [fresh] : [], { ...wanted, requestId: request.id }, ctx.now());
  }
  if (!state?.running || state.mirror?.status !== 'approved') {
    throw new DomainError('NO_ACTIVE_GRANT', `The grant of request ${request.id} is not live`);
  }
  // The grant is in the log before anything runs under it: events its maker left (claim run out)
  // are appended here; events still claimed are being appended by their maker, so wait for that.
  // Only what records the grant itself gates a use: a counted grant's `grant.useCounted` events
  // (appended by the execution that wrote them, or by the workflow's sweep) never do.
  const gating = (audit: readonly PendingAudit[]) => audit.some((e) => e.action !== AuditAction.UseCounted);
  if (candidates.some((c) => c.request.id === request.id && gating(c.audit))) {
    const left = await flushAudit(ctx.repo, ctx.audit, request.id, 'claimable', now);
    if (left.claimableAt !== null && gating((await ctx.repo.read(request.id))?.audit ?? [])) {
      throw new DomainError(
        'UNAVAILABLE',
        `The grant of request ${request.id} is still being recorded in the audit; try again shortly.`,
        { retryAfterSeconds: 1 },
      );
    }
  }
  return { kind: 'grant', request };
}

/** Pauses before each re-read of the workflow's state: short first (it is usually a few ms behind). */
const NUDGE_PAUSES_MS = [10, 20, 40, 80, 160, 320];
/** A decision older than this whose workflow still waits lost its event; a younger one is in flight. */
const LOST_EVENT_AFTER_MS = 2000;

/**
 * The row says approved but the workflow still waits for the decision: either it has not handled
 * the event yet (an execution right after the approval), or the event was lost (the approver's
 * call died after the row was written). Only then tell it again — events only say "look again", a
 * duplicate is harmless, but each one stays in the workflow's history — and in both cases watch its
 * state for under a second.
 */
async function nudge(
  ctx: ExecuteContext,
  request: Request,
  now: Date,
): Promise<OrchestrationState | undefined> {
  const decidedAt = request.decidedAt === null ? now.getTime() : Date.parse(request.decidedAt);
  if (now.getTime() - decidedAt >= LOST_EVENT_AFTER_MS) {
    await ctx.orchestrations.raise(request.id, RequestEvent.Decided, { status: 'approved' });
  }
  let state: OrchestrationState | undefined;
  for (const pause of NUDGE_PAUSES_MS) {
    await new Promise((r) => setTimeout(r, pause));
    state = await ctx.orchestrations.state(request.id);
    if (state?.mirror?.status !== 'pending') return state;
  }
  return state;
}

async function run(
  ctx: ExecuteContext,
  task: Task,
  payload: ExecutionPayload,
  now: Date,
): Promise<ExecutionOutcome> {
  switch (task.executor.type) {
    case 'webhook':
      return callWebhook(task.executor.url, payload, { ...ctx.webhook, now });
    case 'serviceBus': {
      try {
        await ctx.bus().sender(task.executor.queue).sendMessages({
          messageId: payload.executionId,
          contentType: 'application/json',
          subject: 'zsa.execution',
          body: payload,
        });
        return {
          ok: true,
          result: { queued: true, queue: task.executor.queue, messageId: payload.executionId },
        };
      } catch {
        // A send that failed may still have been accepted by the broker (its answer lost).
        return {
          ok: false,
          reason: `the command could not be queued on ${task.executor.queue}`,
          effect: 'unknown',
        };
      }
    }
  }
}
