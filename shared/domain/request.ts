import { z } from 'zod';
import {
  assertParameters,
  describeTarget,
  ParameterValues,
  type ParameterValue,
  Scope,
  type Target,
  type Task,
} from './catalog';
import { DomainError } from './errors';
import { isMember, type Actor, type Member } from './pam';
import { ApprovalTypeSchema, type Policy } from './policy';
import { ApproverGroupName, Id, normalizeUpn, RoleGroupName, RoleName, TaskName, Upn } from './names';
import { addHours, Hours, hoursToSeconds, instantOf, isPast, Timestamp, toTimestamp } from './time';

// --- Statuses ---------------------------------------------------------------------------------

/**
 * `pending` → `approved` (grant live) → `ended` (window over) or `revoked`;
 * `pending` → `denied`, `canceled` or `expired` (no decision before `pendingUntil`);
 * `failed` only for a system fault.
 */
export const RequestStatus = {
  pending: 'pending',
  approved: 'approved',
  denied: 'denied',
  canceled: 'canceled',
  expired: 'expired',
  ended: 'ended',
  revoked: 'revoked',
  failed: 'failed',
} as const;
export type RequestStatus = (typeof RequestStatus)[keyof typeof RequestStatus];
export const RequestStatusSchema = z.enum(RequestStatus);

/** A final status never changes again. */
export function isFinal(status: RequestStatus): boolean {
  switch (status) {
    case 'pending':
    case 'approved':
      return false;
    case 'denied':
    case 'canceled':
    case 'expired':
    case 'ended':
    case 'revoked':
    case 'failed':
      return true;
  }
}

/**
 * The grant is usable now. Checked against `expiresAt` at every use, never only by the timer that
 * later marks the request `ended`: an approved request past its expiry grants nothing.
 */
export function isLive(request: Pick<Request, 'status' | 'expiresAt'>, now: Date): boolean {
  return request.status === 'approved' && request.expiresAt !== null && !isPast(request.expiresAt, now);
}

/** Pending and still within its decision window. */
export function isAwaitingDecision(request: Pick<Request, 'status' | 'pendingUntil'>, now: Date): boolean {
  return request.status === 'pending' && !isPast(request.pendingUntil, now);
}

// --- Model ------------------------------------------------------------------------------------

export const Decision = {
  approve: 'approve',
  deny: 'deny',
} as const;
export type Decision = (typeof Decision)[keyof typeof Decision];
export const DecisionSchema = z.enum(Decision);

export const MAX_COMMENT = 1000;

export const Approval = z.strictObject({
  /** For display; who decided is `approverId`. */
  approver: Upn,
  /**
   * The approver's stable key (`Principal.id`). Absent only in approvals recorded before decisions
   * kept it; those still count, by name, for "once per person".
   */
  approverId: z.string().min(1).max(300).optional(),
  decision: DecisionSchema,
  comment: z.string().max(MAX_COMMENT).nullable(),
  at: Timestamp,
});
export type Approval = z.output<typeof Approval>;

const targetShape = {
  task: TaskName.optional(),
  role: RoleName.optional(),
  roleGroup: RoleGroupName.optional(),
};

type TargetFields = { task?: string | undefined; role?: string | undefined; roleGroup?: string | undefined };

function exactlyOneTarget(value: TargetFields, ctx: z.RefinementCtx): void {
  const given = [value.task, value.role, value.roleGroup].filter((v) => v !== undefined).length;
  if (given !== 1)
    ctx.addIssue({
      code: 'custom',
      path: [],
      message: `give exactly one of task, role or roleGroup (got ${given === 0 ? 'none' : given})`,
    });
}

/** The scope and name a request addresses; its fields hold exactly one of task, role, roleGroup. */
export function targetOf(fields: TargetFields): Target {
  if (fields.task !== undefined) return { scope: Scope.task, name: fields.task };
  if (fields.role !== undefined) return { scope: Scope.role, name: fields.role };
  if (fields.roleGroup !== undefined) return { scope: Scope.roleGroup, name: fields.roleGroup };
  throw new DomainError('INVALID_INPUT', 'A request must name a task, a role or a role group');
}

/** The inverse of `targetOf`: the one field that names the target. */
export function targetFields(target: Target): { task: string } | { role: string } | { roleGroup: string } {
  switch (target.scope) {
    case 'task':
      return { task: target.name };
    case 'role':
      return { role: target.name };
    case 'roleGroup':
      return { roleGroup: target.name };
  }
}

export const DEFAULT_DURATION_HOURS = 4;

/** Body of `POST /api/requests`. */
export const SubmitRequestBody = z
  .strictObject({
    ...targetShape,
    reason: z.string().trim().min(1, 'must not be empty').max(1000),
    ticket: z.string().trim().min(1, 'must not be empty').max(128).optional(),
    durationHours: Hours.default(DEFAULT_DURATION_HOURS),
    parameters: ParameterValues.optional(),
    /** Lets callers that retry (Power Automate) get the same request back. */
    clientRequestId: z.string().min(1).max(128).optional(),
  })
  .superRefine(exactlyOneTarget);
export type SubmitRequestBody = z.output<typeof SubmitRequestBody>;
export type SubmitRequestInput = z.input<typeof SubmitRequestBody>;

const requestShape = {
  id: Id,
  requester: Upn,
  /**
   * Who asked, as a stable key (`tenant:object id`): every "is this the requester" rule compares
   * this, since a UPN can be renamed or reassigned. `requester` is for display and email.
   */
  requesterId: z.string().min(1).max(300),
  ...targetShape,
  /** The effective task names at submission; catalog edits do not change a request in flight. */
  tasks: z.array(TaskName).min(1),
  reason: z.string().max(1000),
  ticket: z.string().max(128).nullable(),
  durationHours: Hours,
  /** When given, the exact parameters every execution under this grant must use. */
  parameters: ParameterValues.nullable(),
  status: RequestStatusSchema,
  policyId: Id,
  approvalType: ApprovalTypeSchema,
  /** Null only for auto-approved requests with no group to notify. */
  approverGroup: ApproverGroupName.nullable(),
  /** 0 for auto-approved requests. */
  requiredApprovals: z.int().min(0),
  approvals: z.array(Approval),
  clientRequestId: z.string().max(128).nullable(),
  createdAt: Timestamp,
  pendingUntil: Timestamp,
  /** When it was approved or denied. */
  decidedAt: Timestamp.nullable(),
  grantedAt: Timestamp.nullable(),
  expiresAt: Timestamp.nullable(),
  /** When it reached a final status: set exactly when `isFinal(status)`. */
  endedAt: Timestamp.nullable(),
  /** Who canceled or revoked it; null when the system ended it. */
  endedBy: Upn.nullable(),
  /** The revoke comment, or the fault behind `failed`. */
  endReason: z.string().max(MAX_COMMENT).nullable(),
};

/** A request as the domain keeps it (the orchestration's custom status, the projection row). */
export const Request = z.strictObject(requestShape).superRefine(exactlyOneTarget);
export type Request = z.output<typeof Request>;

export const ExecutionStatus = {
  succeeded: 'succeeded',
  failed: 'failed',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

/** One execution under a request, as listed in its view. */
export const ExecutionSummary = z.strictObject({
  executionId: Id,
  task: TaskName,
  status: z.enum(ExecutionStatus),
  executedAt: Timestamp,
});
export type ExecutionSummary = z.output<typeof ExecutionSummary>;

/** The request view of the HTTP contract: the request plus its executions. */
export const RequestView = z
  .strictObject({ ...requestShape, executions: z.array(ExecutionSummary) })
  .superRefine(exactlyOneTarget);
export type RequestView = z.output<typeof RequestView>;

export function toRequestView(request: Request, executions: readonly ExecutionSummary[]): RequestView {
  return { ...request, executions: [...executions] };
}

// --- HTTP bodies and queries that carry no rule of their own -----------------------------------

/** Body of `POST /api/requests/{id}/approve` and `/deny`. */
export const DecisionBody = z.strictObject({
  comment: z.string().trim().max(MAX_COMMENT).optional(),
});
export type DecisionBody = z.output<typeof DecisionBody>;

/** Body of `POST /api/requests/{id}/revoke`. */
export const RevokeBody = DecisionBody;
export type RevokeBody = DecisionBody;

const queryFlag = z.enum(['true', 'false']).transform((v) => v === 'true');

/** Query of `GET /api/requests` (every value arrives as a string). */
export const ListRequestsQuery = z.strictObject({
  status: RequestStatusSchema.optional(),
  mine: queryFlag.optional(),
  approvable: queryFlag.optional(),
  continuationToken: z.string().min(1).max(4096).optional(),
});
export type ListRequestsQuery = z.output<typeof ListRequestsQuery>;

/** Body of `POST /api/execute`. */
export const ExecuteBody = z.strictObject({
  task: TaskName,
  parameters: ParameterValues.optional(),
  requestId: Id.optional(),
});
export type ExecuteBody = z.output<typeof ExecuteBody>;

// --- Submission -------------------------------------------------------------------------------

export interface PlanInput {
  /** Generated by the caller (the orchestration instance id); the domain draws no randomness. */
  readonly id: string;
  /** The authenticated caller's UPN. */
  readonly requester: string;
  /** The authenticated caller's stable id (`Principal.id`). */
  readonly requesterId: string;
  readonly body: SubmitRequestBody;
  /** `effectiveTasks(targetOf(body), catalog)`. */
  readonly tasks: readonly Task[];
}

export interface PlanSettings {
  /** `ZSA_MIN_DURATION_SECONDS`. */
  readonly minDurationSeconds: number;
  /** From the PAM configuration; used when the policy names no group. */
  readonly defaultApproverGroup: string | null;
}

/** The grant that starts at `from` and lasts `durationHours`. */
export function grantWindow(
  durationHours: number,
  from: Date,
): { grantedAt: Timestamp; expiresAt: Timestamp } {
  return { grantedAt: toTimestamp(from), expiresAt: toTimestamp(addHours(from, durationHours)) };
}

/** Refuses a requested duration outside [minimum, policy maximum]. */
export function assertDuration(
  durationHours: number,
  policy: Pick<Policy, 'maxDurationHours'>,
  minDurationSeconds: number,
): void {
  if (policy.maxDurationHours !== undefined && durationHours > policy.maxDurationHours)
    throw new DomainError(
      'DURATION_TOO_LONG',
      `durationHours ${durationHours} exceeds the policy's maximum of ${policy.maxDurationHours} hours`,
      { errors: [{ pointer: '#/durationHours', detail: `must be at most ${policy.maxDurationHours}` }] },
    );
  if (hoursToSeconds(durationHours) < minDurationSeconds)
    throw new DomainError(
      'DURATION_TOO_SHORT',
      `durationHours ${durationHours} is shorter than the minimum of ${minDurationSeconds} seconds`,
      {
        errors: [
          { pointer: '#/durationHours', detail: `must be at least ${minDurationSeconds / 3600} hours` },
        ],
      },
    );
}

/**
 * Builds a new request from a validated body and the policy that governs it: `pending`, or
 * `approved` at once (granted from `now`) when the policy is automatic. The policy's approval
 * rules are copied onto the request so that editing the policy never changes a request in flight.
 * Throws DURATION_TOO_LONG / DURATION_TOO_SHORT, INVALID_PARAMETERS (parameters that do not fit
 * the task, or parameters on a role or role-group request, which has no single task to fit) and
 * NO_APPROVER_GROUP. Whether privileged access is enabled is checked by the caller (`assertPamEnabled`).
 */
export function planRequest(input: PlanInput, policy: Policy, settings: PlanSettings, now: Date): Request {
  const { body } = input;
  const target = targetOf(body);
  assertDuration(body.durationHours, policy, settings.minDurationSeconds);

  if (body.parameters !== undefined) {
    const task = target.scope === 'task' ? input.tasks.find((t) => t.name === target.name) : undefined;
    if (task === undefined)
      throw new DomainError(
        'INVALID_PARAMETERS',
        `Parameters can only be given for a single task, not a ${describeTarget(target)}`,
        {
          errors: [{ pointer: '#/parameters', detail: 'only allowed when requesting a task' }],
        },
      );
    assertParameters(task, body.parameters);
  }

  const approverGroup = policy.approverGroup ?? settings.defaultApproverGroup;
  const auto = policy.approvalType === 'auto';
  if (!auto && approverGroup === null)
    throw new DomainError(
      'NO_APPROVER_GROUP',
      `The policy for the ${describeTarget(target)} names no approver group and no default group is configured`,
    );

  const createdAt = toTimestamp(now);
  return {
    id: input.id,
    requester: normalizeUpn(input.requester),
    requesterId: input.requesterId,
    ...targetFields(target),
    tasks: input.tasks.map((t) => t.name),
    reason: body.reason,
    ticket: body.ticket ?? null,
    durationHours: body.durationHours,
    parameters: body.parameters ?? null,
    status: auto ? 'approved' : 'pending',
    policyId: policy.id,
    approvalType: policy.approvalType,
    approverGroup,
    requiredApprovals: auto ? 0 : policy.requiredApprovals,
    approvals: [],
    clientRequestId: body.clientRequestId ?? null,
    createdAt,
    pendingUntil: toTimestamp(addHours(now, policy.pendingTimeoutHours)),
    decidedAt: auto ? createdAt : null,
    ...(auto ? grantWindow(body.durationHours, now) : { grantedAt: null, expiresAt: null }),
    endedAt: null,
    endedBy: null,
    endReason: null,
  };
}

// --- Transitions a person asks for ---------------------------------------------------------------

/**
 * What a rule says a person's call does to a request, as a value (the story writes, or refuses, by
 * it). `applied`: the next state, and which of the rule's outcomes it is. `alreadyApplied`: the
 * change this call asks for is already in the row — a retry whose first attempt committed, perhaps
 * without its answer arriving — so the call is refused as the first one would now be (the state
 * moved on), while its follow-ups (audit, the orchestration's event) run again; `outcome` is the
 * outcome found in the row. `refused`: nothing to do.
 */
export type Transition<O extends string> =
  | { readonly kind: 'applied'; readonly outcome: O; readonly request: Request }
  | {
      readonly kind: 'alreadyApplied';
      readonly outcome: O;
      readonly request: Request;
      readonly refusal: DomainError;
    }
  | { readonly kind: 'refused'; readonly refusal: DomainError };

// --- Decisions --------------------------------------------------------------------------------

/**
 * The state a set of reviews calls for. A denial beats any number of approvals, by rule and not
 * by arrival order; approvals count once per distinct approver.
 */
export function tally(
  approvals: readonly Approval[],
  requiredApprovals: number,
): 'pending' | 'approved' | 'denied' {
  if (approvals.some((a) => a.decision === 'deny')) return 'denied';
  const approvers = new Set(approvals.filter((a) => a.decision === 'approve').map(personOf));
  return approvers.size >= requiredApprovals ? 'approved' : 'pending';
}

/** One person per approval: by stable key, or by name for an approval recorded before keys were kept. */
function personOf(a: Approval): string {
  return a.approverId ?? `upn:${a.approver}`;
}

/** Whether `who` has decided on `request` already (by key; by name only for approvals without one). */
export function hasDecided(request: Pick<Request, 'approvals'>, who: Pick<Actor, 'id' | 'upn'>): boolean {
  return request.approvals.some((a) =>
    a.approverId === undefined ? a.approver === normalizeUpn(who.upn) : a.approverId === who.id,
  );
}

/** Who decides: the signed-in approver, or the one an emailed link was minted for. */
export type Approver = Pick<Actor, 'id' | 'upn'>;

export interface DecisionInput {
  readonly approver: Approver;
  readonly decision: Decision;
  readonly comment?: string | null | undefined;
}

export type DecisionOutcome = 'recorded' | 'approved' | 'denied';

/**
 * Why `approver` may not decide on `request` now, or undefined if they may. Identity refusals come
 * first (they hold whatever the state), then this approver's own earlier decision, then the state.
 */
export function decisionRefusal(
  request: Request,
  approver: Approver,
  approverGroupMembers: readonly Member[],
  now: Date,
): DomainError | undefined {
  const who = normalizeUpn(approver.upn);
  // By stable key only: a UPN can be renamed, or be claimed by a token that merely carries it.
  if (approver.id === request.requesterId)
    return new DomainError('SELF_APPROVAL', 'Requesters may not decide on their own request');
  if (request.approverGroup === null || !isMember(approverGroupMembers, approver.id))
    return new DomainError(
      'NOT_AN_APPROVER',
      `${who} is not a member of the approver group ${JSON.stringify(request.approverGroup)} of this request`,
    );
  if (hasDecided(request, approver))
    return new DomainError('ALREADY_DECIDED', `${who} has already decided on this request`);
  if (request.status !== 'pending')
    return new DomainError('REQUEST_NOT_PENDING', `The request is ${request.status}, no longer pending`);
  // A decision at or after the deadline is late even if the expiry timer has not run yet.
  if (isPast(request.pendingUntil, now))
    return new DomainError(
      'REQUEST_NOT_PENDING',
      `The request expired at ${request.pendingUntil} without a decision`,
    );
  return undefined;
}

/** True if `approver` could decide on `request` now: the `approvable=true` filter. */
export function isApprovableBy(
  request: Request,
  approver: Approver,
  approverGroupMembers: readonly Member[],
  now: Date,
): boolean {
  return decisionRefusal(request, approver, approverGroupMembers, now) === undefined;
}

/**
 * Records one approver's decision. `recorded` is the explicit "no transition": the request stays
 * pending, waiting for more approvals. `approved` starts the grant at `now`; `denied` ends the
 * request. Throws the refusal of `decisionRefusal`.
 */
export function applyDecision(
  request: Request,
  input: DecisionInput,
  approverGroupMembers: readonly Member[],
  now: Date,
): { outcome: DecisionOutcome; request: Request } {
  const t = decideTransition(request, input, approverGroupMembers, now);
  if (t.kind !== 'applied') throw t.refusal;
  return { outcome: t.outcome, request: t.request };
}

/**
 * `applyDecision` as a value. `alreadyApplied`: this approver's decision is in the row and the
 * request is decided — a retry of the call that decided it, or of one that came before — so the
 * retry is refused as ALREADY_DECIDED, like the first answer it may have lost, but with the outcome
 * found in the row.
 */
export function decideTransition(
  request: Request,
  input: DecisionInput,
  approverGroupMembers: readonly Member[],
  now: Date,
): Transition<DecisionOutcome> {
  const refusal = decisionRefusal(request, input.approver, approverGroupMembers, now);
  if (refusal !== undefined) {
    const { status } = request;
    return refusal.code === 'ALREADY_DECIDED' && (status === 'approved' || status === 'denied')
      ? { kind: 'alreadyApplied', outcome: status, request, refusal }
      : { kind: 'refused', refusal };
  }

  const at = toTimestamp(now);
  const comment = input.comment?.trim() ?? '';
  const approvals = [
    ...request.approvals,
    {
      approver: normalizeUpn(input.approver.upn),
      approverId: input.approver.id,
      decision: input.decision,
      comment: comment === '' ? null : comment,
      at,
    },
  ];
  const state = tally(approvals, request.requiredApprovals);
  switch (state) {
    case 'pending':
      return { kind: 'applied', outcome: 'recorded', request: { ...request, approvals } };
    case 'approved':
      return {
        kind: 'applied',
        outcome: 'approved',
        request: {
          ...request,
          approvals,
          status: 'approved',
          decidedAt: at,
          ...grantWindow(request.durationHours, now),
        },
      };
    case 'denied':
      return {
        kind: 'applied',
        outcome: 'denied',
        request: { ...request, approvals, status: 'denied', decidedAt: at, endedAt: at },
      };
  }
}

// --- Other transitions ------------------------------------------------------------------------

/**
 * Result of a transition the system drives (expire, end, fail). `unchanged` is the explicit "no
 * transition": someone else got there first (a decision beat the expiry timer, a revoke beat the
 * end timer), which is normal and must not be treated as an error.
 */
export interface SystemTransition<O extends string> {
  readonly outcome: O | 'unchanged';
  readonly request: Request;
}

/** The requester withdraws a pending request. Throws NOT_REQUESTER, then REQUEST_NOT_PENDING. */
export function cancel(request: Request, actor: Pick<Actor, 'upn' | 'id'>, now: Date): Request {
  const t = cancelTransition(request, actor, now);
  if (t.kind !== 'applied') throw t.refusal;
  return t.request;
}

/** `cancel` as a value; `alreadyApplied` when the requester finds it canceled (only they can cancel). */
export function cancelTransition(
  request: Request,
  actor: Pick<Actor, 'upn' | 'id'>,
  now: Date,
): Transition<'canceled'> {
  if (actor.id !== request.requesterId)
    return {
      kind: 'refused',
      refusal: new DomainError('NOT_REQUESTER', 'Only the requester may cancel a request'),
    };
  if (!isAwaitingDecision(request, now)) {
    const refusal = new DomainError(
      'REQUEST_NOT_PENDING',
      request.status === 'pending'
        ? `The request expired at ${request.pendingUntil}`
        : `The request is ${request.status}, no longer pending`,
    );
    return request.status === 'canceled'
      ? { kind: 'alreadyApplied', outcome: 'canceled', request, refusal }
      : { kind: 'refused', refusal };
  }
  return {
    kind: 'applied',
    outcome: 'canceled',
    request: { ...request, status: 'canceled', endedAt: toTimestamp(now), endedBy: normalizeUpn(actor.upn) },
  };
}

/** Admins, the request's approvers (its group's members, and whoever decided on it) and the requester may revoke. */
export function mayRevoke(request: Request, actor: Actor, approverGroupMembers: readonly Member[]): boolean {
  return (
    actor.isAdmin ||
    actor.id === request.requesterId ||
    (request.approverGroup !== null && isMember(approverGroupMembers, actor.id)) ||
    // By key only: an approval recorded before keys were kept grants nothing to whoever holds its
    // UPN now (the name fallback of `hasDecided` only refuses a second decision).
    request.approvals.some((a) => a.approverId === actor.id)
  );
}

export interface RevokeInput {
  readonly actor: Actor;
  readonly comment?: string | null | undefined;
}

/** Ends a live grant early. Throws REVOKE_NOT_ALLOWED, then REQUEST_NOT_LIVE. */
export function revoke(
  request: Request,
  input: RevokeInput,
  approverGroupMembers: readonly Member[],
  now: Date,
): Request {
  const t = revokeTransition(request, input, approverGroupMembers, now);
  if (t.kind !== 'applied') throw t.refusal;
  return t.request;
}

/**
 * `revoke` as a value; `alreadyApplied` when someone who may revoke finds it revoked (by them or
 * another: either way the grant is over, and the orchestration may hear it again).
 */
export function revokeTransition(
  request: Request,
  input: RevokeInput,
  approverGroupMembers: readonly Member[],
  now: Date,
): Transition<'revoked'> {
  if (!mayRevoke(request, input.actor, approverGroupMembers))
    return {
      kind: 'refused',
      refusal: new DomainError(
        'REVOKE_NOT_ALLOWED',
        'Only an admin, an approver of this request or its requester may revoke it',
      ),
    };
  if (!isLive(request, now)) {
    const refusal = new DomainError(
      'REQUEST_NOT_LIVE',
      request.status === 'approved'
        ? `The grant already ended at ${String(request.expiresAt)}`
        : `The request is ${request.status}, not a live grant`,
    );
    return request.status === 'revoked'
      ? { kind: 'alreadyApplied', outcome: 'revoked', request, refusal }
      : { kind: 'refused', refusal };
  }
  const comment = input.comment?.trim() ?? '';
  return {
    kind: 'applied',
    outcome: 'revoked',
    request: {
      ...request,
      status: 'revoked',
      endedAt: toTimestamp(now),
      endedBy: normalizeUpn(input.actor.upn),
      endReason: comment === '' ? null : comment,
    },
  };
}

/**
 * A pending request whose decision window has passed. `endedAt` is the deadline itself, not the
 * moment the timer ran, so replays and late timers record the same instant.
 */
export function expire(request: Request, now: Date): SystemTransition<'expired'> {
  if (request.status !== 'pending') return { outcome: 'unchanged', request };
  if (!isPast(request.pendingUntil, now))
    throw new DomainError('NOT_YET_DUE', `The request is pending until ${request.pendingUntil}`);
  return { outcome: 'expired', request: { ...request, status: 'expired', endedAt: request.pendingUntil } };
}

/** An approved request whose grant window is over; `endedAt` is `expiresAt`, when access actually stopped. */
export function end(request: Request, now: Date): SystemTransition<'ended'> {
  if (request.status !== 'approved' || request.expiresAt === null) return { outcome: 'unchanged', request };
  if (!isPast(request.expiresAt, now))
    throw new DomainError('NOT_YET_DUE', `The grant lasts until ${request.expiresAt}`);
  return { outcome: 'ended', request: { ...request, status: 'ended', endedAt: request.expiresAt } };
}

/** A system fault stopped the request; the reason is kept (and audited by the caller). */
export function fail(request: Request, reason: string, now: Date): SystemTransition<'failed'> {
  if (isFinal(request.status)) return { outcome: 'unchanged', request };
  return {
    outcome: 'failed',
    request: {
      ...request,
      status: 'failed',
      endedAt: toTimestamp(now),
      endReason: reason.slice(0, MAX_COMMENT),
    },
  };
}

// --- Visibility and use -----------------------------------------------------------------------

/** `GET /api/requests/{id}`: the requester, its approvers, admins and auditors. */
export function canView(request: Request, actor: Actor, approverGroupMembers: readonly Member[]): boolean {
  return actor.isAuditor || mayRevoke(request, actor, approverGroupMembers);
}

export interface ExecutionQuery {
  readonly requester: string;
  /** The caller's stable id: the request must be theirs by id, not merely by name. */
  readonly requesterId: string;
  readonly task: string;
  readonly parameters?: ParameterValues | null | undefined;
  /** When given, only this request may cover the execution. */
  readonly requestId?: string | undefined;
}

function sameParameters(pinned: ParameterValues, given: ParameterValues): boolean {
  const a = Object.entries(pinned);
  const b = new Map<string, ParameterValue>(Object.entries(given));
  return a.length === b.size && a.every(([k, v]) => b.has(k) && b.get(k) === v);
}

/**
 * Why `request` does not cover the execution, or undefined if it does: it must be the caller's,
 * live now, list the task, and, when the request pinned parameters, be executed with exactly those.
 */
export function coverageRefusal(request: Request, query: ExecutionQuery, now: Date): string | undefined {
  if (query.requestId !== undefined && request.id !== query.requestId) return 'a different request was named';
  if (request.requesterId !== query.requesterId) return 'the request belongs to someone else';
  if (!isLive(request, now))
    return request.status === 'approved'
      ? `the grant ended at ${String(request.expiresAt)}`
      : `the request is ${request.status}`;
  if (!request.tasks.includes(query.task))
    return `the request does not grant task ${JSON.stringify(query.task)}`;
  if (request.parameters !== null && !sameParameters(request.parameters, query.parameters ?? {}))
    return 'the parameters differ from the ones approved';
  return undefined;
}

/**
 * The grant an execution runs under: among the requests that cover it, the one that expires last
 * (then by id), so the audit points at the grant that will still hold. Throws NO_ACTIVE_GRANT,
 * with the reason when a single request of the caller's own was named.
 */
export function requireCoveringGrant(
  requests: readonly Request[],
  query: ExecutionQuery,
  now: Date,
): Request {
  const covering = requests
    .filter((r) => coverageRefusal(r, query, now) === undefined)
    .sort((a, b) => expiryOf(b) - expiryOf(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const chosen = covering[0];
  if (chosen !== undefined) return chosen;
  // Only the caller's own request earns a reason: for anyone else's, the refusal is the one for an id
  // that does not exist, so it confirms neither that the request exists nor whose it is.
  const named = requests.find((r) => r.id === query.requestId && r.requesterId === query.requesterId);
  const why = named === undefined ? undefined : coverageRefusal(named, query, now);
  throw new DomainError(
    'NO_ACTIVE_GRANT',
    `No live grant of yours covers task ${JSON.stringify(query.task)}${why === undefined ? '' : `: ${why}`}`,
  );
}

function expiryOf(request: Request): number {
  return request.expiresAt === null ? 0 : instantOf(request.expiresAt);
}
