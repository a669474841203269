/**
 * The request stories: submit, read, decide, cancel, revoke, and the orchestration's own
 * transitions. Decide, cancel and revoke are declared as caller transitions and run by the one
 * helper in ./transition.ts; listing lives in ./listing.ts.
 */
import { randomUUID } from 'node:crypto';
import {
  AuditAction,
  SYSTEM_ACTOR,
  type AuditActor,
  type AuditEventInput,
  type AuditOrigin,
} from '#shared/audit/types';
import type { Principal } from '#shared/auth/index';
import { effectiveTasks } from '#shared/domain/catalog';
import { DomainError } from '#shared/domain/errors';
import { assertPamEnabled, isMember } from '#shared/domain/pam';
import type { RequestAgent } from '#shared/domain/agents';
import { requirePolicy, type Policy } from '#shared/domain/policy';
import {
  canView,
  cancelTransition,
  decideTransition,
  end as endRule,
  expire as expireRule,
  fail as failRule,
  isGranted,
  isScheduled,
  pendingExtension,
  planRequest,
  revokeTransition,
  targetOf,
  toRequestView,
  type Decision,
  type DecisionOutcome,
  type Request,
  type RequestView,
  type SubmitRequestBody,
  type SystemTransition,
} from '#shared/domain/request';
import {
  flushAudit,
  lifecycleEventId,
  ownEvents,
  pending,
  type FlushResult,
  type FlushScope,
  type PendingAudit,
} from './audit-outbox';
import {
  actorOf,
  membersOf,
  notFound,
  type Caller,
  type RequestContext,
  type SystemContext,
} from './context';
import { record } from '#shared/telemetry/metrics';
import { Attr, SpanName } from '#shared/telemetry/names';
import { inSpan } from '#shared/telemetry/spans';
import { RequestEvent } from './orchestrations';
import { afterCommit, runTransition, together } from './transition';

/**
 * How long a new request may go without a workflow before the reconciler (./reconcile.ts) calls it
 * failed: a submit stores the request and starts its workflow within seconds, or removes it, and a
 * retried submit (same clientRequestId) starts a workflow its first attempt did not. Past this,
 * nobody will.
 */
export const START_GRACE_MS = 5 * 60_000;

async function view(ctx: RequestContext, request: Request): Promise<RequestView> {
  return toRequestView(request, await ctx.repo.executions(request.id));
}

/**
 * `POST /api/requests`. Answers the new (or, for a repeated clientRequestId, the earlier) request.
 * Traced as `zsa.submit`; a new request counts in `zsa.requests` (and an emergency grant in
 * `zsa.emergency.uses`).
 */
export async function submitRequest(
  ctx: RequestContext,
  caller: Caller,
  body: SubmitRequestBody,
  // The caller's submit allowance (rate limit, #12), taken by the handler in parallel with these
  // reads and awaited before anything is written: a refusal writes nothing and audits nothing.
  admission: Promise<unknown> = Promise.resolve(),
  // An AI agent's request (shared/agents/tools.ts): admitted and narrowed by the governing policy.
  agent?: AgentPlan,
): Promise<{ view: RequestView; created: boolean }> {
  // No attributes until the submit succeeds: a refused one's task is the caller's raw text, which
  // may name no catalog task at all (or hold anything); the view's task is a catalog name.
  return inSpan(SpanName.Submit, {}, async (span) => {
    const submitted = await submit(ctx, caller, body, admission, agent);
    const { view, created } = submitted;
    span.set({
      [Attr.RequestId]: view.id,
      [Attr.Task]: view.task,
      [Attr.Status]: view.status,
      [Attr.Outcome]: created ? 'created' : 'repeated',
    });
    if (created) {
      record.requestStatus(view.status, view.task);
      if (view.emergency && view.status === 'approved') record.emergencyUse(view.task);
    }
    return submitted;
  });
}

async function submit(
  ctx: RequestContext,
  caller: Caller,
  body: SubmitRequestBody,
  admission: Promise<unknown>,
  agent: AgentPlan | undefined,
): Promise<{ view: RequestView; created: boolean }> {
  const target = targetOf(body);
  const [config, { catalog, policies }] = await Promise.all([
    ctx.config.pamConfig(),
    ctx.config.policyContext(target),
    admission,
  ]);
  try {
    assertPamEnabled(config);
    const tasks = effectiveTasks(target, catalog);
    const governing = requirePolicy(target, catalog, policies, config.defaultApproverGroup);
    // Throws (refused, audited below) when the policy does not let this agent ask.
    const asked = agent?.plan(governing);
    const policy = asked?.policy ?? governing;
    if (asked !== undefined) body = { ...body, durationHours: asked.durationHours };
    // Emergency access is for the members of the policy's break-glass group, by stable id.
    const breakGlass = policy.breakGlassGroup;
    const isBreakGlassMember =
      body.emergency === true &&
      breakGlass !== undefined &&
      isMember(await ctx.config.groupMembers(breakGlass), caller.principal.id);
    let request = planRequest(
      {
        id: randomUUID(),
        requester: asked?.requester ?? caller.principal.upn,
        requesterId: caller.principal.id,
        body,
        tasks,
        isBreakGlassMember,
      },
      policy,
      { minDurationSeconds: ctx.minDurationSeconds, defaultApproverGroup: config.defaultApproverGroup },
      ctx.now,
    );
    if (asked !== undefined) request = { ...request, agent: asked.agent };
    let events = submitEvents(request, caller, ctx.now, breakGlass);
    // Due for the reconciler's first look once a submit that died can no longer be finished.
    const checkAt = new Date(ctx.now.getTime() + START_GRACE_MS).toISOString();
    const stored = await ctx.repo.create(request, events, checkAt);
    if (!stored.created) {
      // A retry of an earlier submit (Power Automate retries): answer that request. The earlier
      // attempt may still be writing it, so give it a moment before deciding it died.
      const earlier = await settle(async () => (await ctx.repo.read(stored.id))?.request);
      if (earlier) {
        await ensureStarted(ctx, earlier);
        // The earlier attempt may have died before its follow-ups; they are idempotent.
        await afterCommit([
          ...(isGranted(earlier, ctx.now) ? [() => ctx.repo.syncLiveIndex(earlier)] : []),
          // A retry: what its first attempt recorded, once that attempt's claim has run out.
          () => flushAudit(ctx.repo, ctx.audit, earlier.id, 'claimable', ctx.now),
        ]);
        return { view: await view(ctx, earlier), created: false };
      }
      // The earlier attempt claimed the id but stopped before storing the request: finish it now,
      // as of when it was made, so that its list rows (keyed by createdAt, maybe written already)
      // are the same rows, not a second entry for the same request.
      request = { ...request, id: stored.id, createdAt: stored.createdAt ?? request.createdAt };
      events = submitEvents(request, caller, ctx.now, breakGlass);
      await ctx.repo.create({ ...request, clientRequestId: null }, events, checkAt);
    }
    try {
      await ctx.orchestrations.start(request.id);
    } catch (e) {
      await ctx.repo.remove(request); // never leave a request no workflow will ever end
      throw e;
    }
    // After the start (a request removed because its workflow could not start was never audited).
    // An execution waits for these events (execute.ts), so a grant is in the log before any use.
    const started = request;
    await together([
      ...(started.status === 'approved' ? [() => ctx.repo.syncLiveIndex(started)] : []),
      () => flushAudit(ctx.repo, ctx.audit, started.id, ownEvents(events), ctx.now),
    ])();
    return { view: toRequestView(request, []), created: true };
  } catch (e) {
    if (e instanceof DomainError && e.kind !== 'unavailable') {
      await ctx.audit.append({
        action: AuditAction.RequestRefused,
        actor: caller.actor,
        outcome: 'refused',
        task: body.task,
        reason: `${e.code}: ${e.message}`,
        detail: { role: body.role, roleGroup: body.roleGroup, durationHours: body.durationHours },
        origin: caller.origin,
      });
    }
    throw e;
  }
}

/**
 * What an AI agent's submit adds (shared/agents/tools.ts): given the governing policy, refuse
 * (throw a DomainError) or answer the policy to plan by, the grant's duration, who the request's
 * mail goes to as its requester, and what the request records of the agent.
 */
export interface AgentPlan {
  plan(policy: Policy): { policy: Policy; durationHours: number; requester: string; agent: RequestAgent };
}

/** Reads until a value appears, for up to ~2 s. */
async function settle<T>(read: () => Promise<T | undefined>): Promise<T | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/** A retried submit finds its request; make sure its workflow exists (the first attempt may have died). */
async function ensureStarted(ctx: RequestContext, request: Request): Promise<void> {
  if ((await ctx.orchestrations.state(request.id)) === undefined) await ctx.orchestrations.start(request.id);
}

/** The audit events of a new request: submitted, and granted at once when the policy is automatic. */
function submitEvents(
  request: Request,
  caller: Caller,
  at: Date,
  breakGlassGroup: string | undefined,
): PendingAudit[] {
  const submitted = pending(
    request.id,
    {
      action: AuditAction.RequestSubmitted,
      actor: caller.actor,
      outcome: 'success',
      requestId: request.id,
      task: request.task,
      detail: {
        target: targetOf(request),
        tasks: request.tasks,
        durationHours: request.durationHours,
        ticket: request.ticket,
        reason: request.reason,
        parameters: request.parameters,
        approvalType: request.approvalType,
        approverGroup: request.approverGroup,
        requiredApprovals: request.requiredApprovals,
        stages: request.stages,
        pendingUntil: request.pendingUntil,
        startAt: request.startAt,
        maxUses: request.maxUses,
        ...(request.emergency ? { emergency: true } : {}),
        ...(request.agent === undefined ? {} : { agent: request.agent }),
      },
      origin: caller.origin,
    },
    at,
  );
  if (request.status !== 'approved') return [submitted];
  const granted = [submitted, grantStarted(request, caller.actor, at, caller.origin)];
  return request.emergency ? [...granted, emergencyUsed(request, caller, at, breakGlassGroup)] : granted;
}

/** The emergency use itself, recorded with the grant it made: what auditors filter on. */
function emergencyUsed(
  request: Request,
  caller: Caller,
  at: Date,
  breakGlassGroup: string | undefined,
): PendingAudit {
  return pending(
    request.id,
    {
      action: AuditAction.EmergencyUsed,
      actor: caller.actor,
      outcome: 'success',
      requestId: request.id,
      task: request.task,
      reason: request.reason,
      detail: {
        target: targetOf(request),
        reason: request.reason,
        durationHours: request.durationHours,
        expiresAt: request.expiresAt,
        breakGlassGroup: breakGlassGroup ?? null,
      },
      origin: caller.origin,
    },
    at,
  );
}

/**
 * The grant's audit event as it is set: `grant.started` when it runs from now, `grant.scheduled`
 * when it starts later (the orchestration appends `grant.started` once the start is reached).
 */
function grantStarted(request: Request, actor: AuditActor, at: Date, origin?: AuditOrigin): PendingAudit {
  return pending(
    request.id,
    {
      action: isScheduled(request, at) ? AuditAction.GrantScheduled : AuditAction.GrantStarted,
      actor,
      outcome: 'success',
      requestId: request.id,
      task: request.task,
      detail: {
        tasks: request.tasks,
        grantedAt: request.grantedAt,
        expiresAt: request.expiresAt,
        ...(request.maxUses === null ? {} : { maxUses: request.maxUses }),
      },
      origin,
    },
    at,
  );
}

/** `GET /api/requests/{id}`: the requester, its approvers, admins and auditors; others get 404. */
export async function getRequest(
  ctx: RequestContext,
  principal: Principal,
  id: string,
): Promise<RequestView> {
  const request = (await ctx.repo.read(id))?.request;
  // Someone who may not see a request learns nothing about it, not even that it exists.
  if (!request || !canView(request, actorOf(principal), await membersOf(ctx, request))) throw notFound(id);
  return view(ctx, request);
}

/**
 * `POST /api/requests/{id}/approve|deny`, and the emailed link's decision: one decision per approver,
 * in the stage that is open; the transition is told to the orchestration once. `linkStage`: the
 * stage an emailed link was minted for (a decision through it counts only while that stage is open).
 */
export async function decide(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  decision: Decision,
  comment: string | undefined,
  linkStage?: number,
): Promise<RequestView> {
  const { principal } = caller;
  // Only people decide: an AI agent with its own identity never does, whatever groups it is in. The
  // refusal does not depend on the request, so it says nothing about whether the id exists.
  // Defence in depth: the HTTP API already refuses app-only tokens (no user name) before this.
  if (principal.agent?.ownIdentity === true) {
    const refusal = new DomainError('AGENT_CANNOT_APPROVE', 'An AI agent may not decide on requests');
    await ctx.audit.append({
      action: AuditAction.DecisionRefused,
      actor: caller.actor,
      outcome: 'refused',
      requestId: id,
      reason: `${refusal.code}: ${refusal.message}`,
      detail: { decision },
      origin: caller.origin,
    });
    throw refusal;
  }
  const input = { approver: principal, decision, comment, linkStage, strength: principal.strength };
  return inSpan(SpanName.Decide, { [Attr.RequestId]: id }, async (span) => {
    const view = await decideTransitionRun(ctx, caller, id, input, comment);
    span.set({ [Attr.Task]: view.task, [Attr.Status]: view.status, [Attr.Outcome]: decision });
    // A decision that closed the pending phase (a recorded approval leaves it pending; a refusal throws).
    if (view.status === 'approved' || view.status === 'denied')
      record.decision((ctx.now.getTime() - Date.parse(view.createdAt)) / 1000, view.status);
    return view;
  });
}

/** The decision as a caller transition (`decide` traces it). */
function decideTransitionRun(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  input: Parameters<typeof decideTransition>[1],
  comment: string | undefined,
): Promise<RequestView> {
  const { decision } = input;
  return runTransition(ctx, caller, id, {
    // Whoever may see it (the requester among them, so that deciding on one's own request is
    // refused as such); to anyone else it does not exist.
    addressable: (request, members) => canView(request, actorOf(caller.principal), members),
    rule: (request, members) => decideTransition(request, input, members, ctx.now),
    events: (outcome, next) => decisionEvents(outcome, next, caller, decision, comment, ctx.now),
    follow: (outcome, request) => ({
      // A scheduled grant is indexed too: an execution before its start is told when it starts.
      liveIndex: outcome === 'approved' && isGranted(request, ctx.now),
      // A recorded approval leaves the stage waiting for more: nothing for the orchestration. A
      // stage approved (the request still pending) tells it to look again: the next stage's
      // approvers are to be asked.
      ...(outcome === 'recorded' ? {} : { event: RequestEvent.Decided }),
    }),
    refusals: { audited: AuditAction.DecisionRefused, unaddressable: 'NOT_AN_APPROVER' },
  });
}

/** The stage a round's latest decision was given in (0 for decisions recorded before stages). */
function lastStage(approvals: Request['approvals']): number {
  return approvals.at(-1)?.stage ?? 0;
}

/**
 * The audit events of stage `closed` approved and (with `opened`) the next one opened. Each is numbered by its stage
 * (`number` maps a stage to the id's number), so a retry records the same ids: a stage closes once.
 */
export function stageEvents(
  requestId: string,
  stages: Request['stages'],
  closed: number,
  actions: { approved: AuditAction; opened?: AuditAction },
  base: Omit<AuditEventInput, 'action' | 'detail'>,
  detail: Record<string, unknown>,
  at: Date,
  number: (stage: number) => number = (stage) => stage,
): PendingAudit[] {
  const of = (stage: number) => ({ stage, approverGroup: stages[stage]?.approverGroup ?? null });
  const event = (action: AuditAction, stage: number) =>
    pending(requestId, { ...base, action, detail: { ...detail, ...of(stage) } }, at, number(stage));
  const { opened } = actions;
  return [
    event(actions.approved, closed),
    ...(opened !== undefined && closed + 1 < stages.length ? [event(opened, closed + 1)] : []),
  ];
}

function decisionEvents(
  outcome: DecisionOutcome,
  next: Request,
  caller: Caller,
  decision: Decision,
  comment: string | undefined,
  at: Date,
): PendingAudit[] {
  const stage = lastStage(next.approvals);
  const base = {
    actor: caller.actor,
    outcome: 'success',
    requestId: next.id,
    task: next.task,
    origin: caller.origin,
  } as const;
  const detail = {
    decision,
    comment: comment ?? null,
    approvals: next.approvals.length,
    requiredApprovals: next.requiredApprovals,
    // The stage the decision was given in (0-based) and its group.
    stage,
    approverGroup: next.stages[stage]?.approverGroup ?? next.approverGroup,
    // How the approver proved who they are: a token, App Service Authentication, or the emailed link alone.
    via: caller.principal.authMethod,
  };
  const event = { ...base, detail } as const;
  // One per approval: numbered by its place among the request's approvals.
  const recorded = () =>
    pending(next.id, { ...event, action: AuditAction.RequestApprovalRecorded }, at, next.approvals.length);
  switch (outcome) {
    case 'recorded':
      return [recorded()];
    case 'stageApproved':
      // The approval, its stage approved, the next stage opened (its approvers are asked now).
      return [
        recorded(),
        ...stageEvents(
          next.id,
          next.stages,
          stage,
          { approved: AuditAction.StageApproved, opened: AuditAction.StageOpened },
          base,
          { stages: next.stages.length },
          at,
        ),
      ];
    case 'approved':
      return [
        pending(next.id, { ...event, action: AuditAction.RequestApproved }, at),
        grantStarted(next, caller.actor, at, caller.origin),
      ];
    case 'denied':
      return [pending(next.id, { ...event, action: AuditAction.RequestDenied }, at)];
  }
}

/** `POST /api/requests/{id}/cancel`: the requester, while pending. */
export async function cancelRequest(ctx: RequestContext, caller: Caller, id: string): Promise<RequestView> {
  return runTransition(ctx, caller, id, {
    rule: (request) => cancelTransition(request, caller.principal, ctx.now),
    events: (_outcome, canceled) => [
      pending(
        id,
        {
          action: AuditAction.RequestCanceled,
          actor: caller.actor,
          outcome: 'success',
          requestId: id,
          task: canceled.task,
          origin: caller.origin,
        },
        ctx.now,
      ),
    ],
    follow: () => ({ liveIndex: false, event: RequestEvent.Decided }),
  });
}

/** `POST /api/requests/{id}/revoke`: effective at once (the guard reads the row), then the orchestration ends the grant. */
export async function revokeRequest(
  ctx: RequestContext,
  caller: Caller,
  id: string,
  comment: string | undefined,
): Promise<RequestView> {
  // The row the rule judged (each compare-and-swap attempt judges, then records, the row it read).
  let judged: Request | undefined;
  return runTransition(ctx, caller, id, {
    rule: (request, members) => {
      judged = request;
      return revokeTransition(request, { actor: actorOf(caller.principal), comment }, members, ctx.now);
    },
    events: (_outcome, revoked) => {
      // An extension still waiting is canceled with the grant it would have extended.
      const waiting = judged === undefined ? undefined : pendingExtension(judged);
      return [
        pending(
          id,
          {
            action: AuditAction.GrantRevoked,
            actor: caller.actor,
            outcome: 'success',
            requestId: id,
            task: revoked.task,
            reason: comment,
            origin: caller.origin,
          },
          ctx.now,
        ),
        ...(waiting === undefined
          ? []
          : [
              pending(
                id,
                {
                  action: AuditAction.ExtensionCanceled,
                  actor: caller.actor,
                  outcome: 'success',
                  requestId: id,
                  task: revoked.task,
                  detail: {
                    extensionId: waiting.id,
                    hours: waiting.hours,
                    expiresAt: revoked.expiresAt,
                    // The grant was revoked: the extension had nothing left to extend.
                    status: revoked.status,
                  },
                  origin: caller.origin,
                },
                ctx.now,
                Number(waiting.id),
              ),
            ]),
      ];
    },
    follow: () => ({ liveIndex: true, event: RequestEvent.Revoked }),
  });
}

// ---- system transitions, run by the orchestration's activities (idempotent) ----

/**
 * The request as the orchestration sees it after an event, with the audit events it can claim
 * appended (those whose claim ran out: the call that recorded them died). Best effort: the
 * orchestration's final sweep makes sure of them, so an audit outage does not hold the workflow (or
 * its notifications) here.
 */
export async function loadRequest(ctx: SystemContext, id: string): Promise<Request> {
  const request = (await ctx.repo.read(id))?.request;
  if (!request) throw notFound(id);
  await flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now).catch(() => undefined);
  return request;
}

/**
 * The orchestration's last step for a finished request: appends the audit events it can claim and
 * says when the earliest claim on what still waits runs out (null: nothing waits), so the sweep can
 * come back then. Fails (and is retried) while the audit is down.
 */
export async function sweepAudit(ctx: SystemContext, id: string): Promise<FlushResult> {
  return flushAudit(ctx.repo, ctx.audit, id, 'claimable', ctx.now);
}

/** The pending window passed: pending → expired, or, if a decision won the race, whatever it decided. */
export async function expireRequest(ctx: SystemContext, id: string): Promise<Request> {
  const { request, own } = await systemTransition(
    ctx,
    id,
    AuditAction.RequestExpired,
    expireRule,
    () => ({}),
  );
  // Also on a retry (the activity's) that finds the request already expired: its own event, by id.
  await flushAudit(ctx.repo, ctx.audit, id, own, ctx.now);
  return request;
}

/** The grant window passed: approved → ended (idempotent: a revoked or already ended request stays). */
export async function endGrant(ctx: SystemContext, id: string): Promise<Request> {
  const { request, own } = await systemTransition(ctx, id, AuditAction.GrantEnded, endRule, (ended) => ({
    detail: { expiresAt: ended.expiresAt },
  }));
  await afterCommit([
    () => ctx.repo.syncLiveIndex(request),
    // Also on a retry (the activity's) that finds the grant already ended: its own event, by id.
    () => flushAudit(ctx.repo, ctx.audit, id, own, ctx.now),
  ]);
  return request;
}

/**
 * A system fault stopped the request: its workflow failed for good (an activity that can never
 * succeed, or retries run out), was terminated, or never started. Pending or approved → `failed`
 * with the reason, audited as the system, and out of the live index; a request already final stays
 * as it is (compare-and-swap, so the workflow's own last step and any number of reconcilers may
 * race). `made`: this call made the transition. Undefined when there is no such request. Access
 * under a failed grant stops at once: the guard reads the row.
 */
export async function failRequest(
  ctx: SystemContext,
  id: string,
  reason: string,
): Promise<{ request: Request; made: boolean } | undefined> {
  if ((await ctx.repo.read(id)) === undefined) return undefined;
  const { request, own } = await systemTransition(
    ctx,
    id,
    AuditAction.RequestFailed,
    (current, now) => failRule(current, reason, now),
    (failed) => ({ reason: failed.endReason ?? reason, detail: { grantExpiresAt: failed.expiresAt } }),
  );
  await afterCommit([
    () => ctx.repo.syncLiveIndex(request),
    () => flushAudit(ctx.repo, ctx.audit, id, own, ctx.now),
  ]);
  return { request, made: own !== 'claimable' };
}

/**
 * A transition the orchestration makes when a deadline passes: the rule applied by compare-and-swap,
 * audited as the system. Its event's id is fixed by the request and the action, so a retried
 * activity flushes the event its first attempt recorded.
 */
async function systemTransition(
  ctx: SystemContext,
  id: string,
  action: AuditAction,
  rule: (current: Request, now: Date) => SystemTransition<string>,
  extra: (next: Request) => Pick<AuditEventInput, 'detail' | 'reason'>,
): Promise<{ request: Request; own: FlushScope }> {
  const event = (next: Request) =>
    pending(
      id,
      { action, actor: SYSTEM_ACTOR, outcome: 'success', requestId: id, task: next.task, ...extra(next) },
      ctx.now,
    );
  const { request, outcome } = await ctx.repo.update(id, (current) => {
    const t = rule(current, ctx.now);
    if (t.outcome === 'unchanged') return { result: t };
    return { next: t.request, result: t, audit: [event(t.request)] };
  });
  if (outcome !== 'unchanged') record.requestStatus(request.status, request.task);
  // Only the call whose write made the transition holds its event's claim. A retry (or a second
  // copy of the activity: activities run at least once) that finds it made claims like anyone.
  return { request, own: outcome === 'unchanged' ? 'claimable' : { own: [lifecycleEventId(id, action)] } };
}
