import { z } from 'zod';
import { RequestAgent } from './agents';
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
import type { Actor } from './pam';
import { ApprovalTypeSchema, MAX_EXTENSIONS, MAX_USES, policyStages, type Policy } from './policy';
import { ApproverGroupName, Id, normalizeUpn, RoleGroupName, RoleName, TaskName, Upn } from './names';
import { assertEmergency, OPEN_REVIEW, Review } from './emergency';
import { AuthContext, NO_STRENGTH, stepUpRefusal, type AuthStrength } from './step-up';
import {
  Approval,
  currentStage,
  hasDecidedIn,
  isApproverOfAny,
  MAX_COMMENT,
  MAX_STAGES,
  MAX_REQUIRED_APPROVALS,
  stageRefusal,
  stageViews,
  StageView,
  tallyRound,
  totalApprovals,
  withDecision,
  type Decision,
  type GroupMembers,
  type Round,
} from './stages';
import {
  addHours,
  Hours,
  hoursToMs,
  hoursToSeconds,
  instantOf,
  isPast,
  Timestamp,
  toTimestamp,
} from './time';
import { ContinuationTokenQuery } from './paging';

export { Approval, Decision, DecisionSchema, MAX_COMMENT, type GroupMembers } from './stages';

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
 * Approved and not yet over: live, or scheduled to start later. Revocable, extendable once live.
 */
export function isGranted(request: Pick<Request, 'status' | 'expiresAt'>, now: Date): boolean {
  return request.status === 'approved' && request.expiresAt !== null && !isPast(request.expiresAt, now);
}

/** Approved, but its scheduled start (`grantedAt`) has not come yet. */
export function isScheduled(request: Pick<Request, 'status' | 'grantedAt'>, now: Date): boolean {
  return request.status === 'approved' && request.grantedAt !== null && !isPast(request.grantedAt, now);
}

/**
 * The grant is usable now: approved, started, not expired. Checked against `grantedAt` and
 * `expiresAt` at every use, never only by the timers that later mark the request `ended`: an
 * approved request past its expiry (or before its start) grants nothing.
 */
export function isLive(request: Pick<Request, 'status' | 'expiresAt' | 'grantedAt'>, now: Date): boolean {
  return isGranted(request, now) && !isScheduled(request, now);
}

/** Pending and still within its decision window. */
export function isAwaitingDecision(request: Pick<Request, 'status' | 'pendingUntil'>, now: Date): boolean {
  return request.status === 'pending' && !isPast(request.pendingUntil, now);
}

// --- Model ------------------------------------------------------------------------------------

/** A stage as a request keeps it (copied from its policy at submission). */
const RequestStage = z.strictObject({
  approverGroup: ApproverGroupName,
  requiredApprovals: z.int().min(1).max(MAX_REQUIRED_APPROVALS),
});

export const ExtensionStatus = {
  pending: 'pending',
  approved: 'approved',
  denied: 'denied',
  /** Not decided before its deadline, or the grant ended first. */
  expired: 'expired',
  /** Withdrawn by the requester, or the grant was revoked or used up while it waited. */
  canceled: 'canceled',
} as const;
export type ExtensionStatus = (typeof ExtensionStatus)[keyof typeof ExtensionStatus];
export const ExtensionStatusSchema = z.enum(ExtensionStatus);

export const MAX_REASON = 1000;

/** One extension of a live grant, as the request row keeps it. Ids are its ordinal: "1", "2", … */
export const Extension = z.strictObject({
  id: z
    .string()
    .regex(/^[1-9][0-9]?$/, 'must be an extension number')
    .meta({ description: "The extension's number within the request: 1, 2, …" }),
  hours: Hours.meta({ description: 'How many more hours it asks for.' }),
  reason: z.string().max(MAX_REASON).meta({ description: 'Why more time is needed.' }),
  status: ExtensionStatusSchema.meta({
    description: '`pending`, `approved`, `denied`, `expired` or `canceled`.',
  }),
  /** Decisions on this extension, each in its stage (the request's stages, as for the request). */
  approvals: z.array(Approval).meta({ description: 'Decisions on this extension, each in its stage.' }),
  createdAt: Timestamp.meta({ description: 'When it was asked for.' }),
  /** It expires unless decided by then: the grant's end, or sooner by the policy's pending window. */
  pendingUntil: Timestamp.meta({
    description:
      "It expires unless decided by then: the grant's end, or sooner by the policy's pending window.",
  }),
  decidedAt: Timestamp.nullable().meta({ description: 'When it was approved or denied.' }),
});
export type Extension = z.output<typeof Extension>;

/** An execution admitted under a counted grant whose outcome is not recorded yet (it holds a use). */
export const UseClaim = z.strictObject({ executionId: Id, at: Timestamp });
export type UseClaim = z.output<typeof UseClaim>;

/**
 * Executions a counted grant admits at once: a bound on the row (each holds a use until its outcome
 * is recorded), far above what one person runs in parallel.
 */
export const MAX_IN_FLIGHT = 50;

const targetShape = {
  task: TaskName.optional().meta({
    description: 'The task asked for (exactly one of task, role and role group).',
  }),
  role: RoleName.optional().meta({
    description: 'The role asked for: every task it holds (exactly one of task, role and role group).',
  }),
  roleGroup: RoleGroupName.optional().meta({
    description:
      'The role group asked for: every task of its roles (exactly one of task, role and role group).',
  }),
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
    reason: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(1000)
      .meta({ description: 'Why you need the access (at least 20 characters for an emergency).' }),
    ticket: z
      .string()
      .trim()
      .min(1, 'must not be empty')
      .max(128)
      .optional()
      .meta({ description: 'The change or incident ticket this access is for.' }),
    durationHours: Hours.default(DEFAULT_DURATION_HOURS).meta({
      description: 'How long the grant should last, in hours (default 4).',
    }),
    parameters: ParameterValues.optional().meta({
      description: 'The exact parameters every execution under this grant must use (optional).',
    }),
    /** Lets callers that retry (Power Automate) get the same request back. */
    clientRequestId: z.string().min(1).max(128).optional().meta({
      description:
        'Any id of yours: sending it again returns the same request, so a retried step never creates two.',
    }),
    /**
     * When the grant should start (an ISO instant, any offset; stored in UTC): the grant then runs
     * from `max(startAt, approval)`. At most the policy's `maxStartDelayHours` ahead.
     */
    startAt: z.iso
      .datetime({ offset: true, error: 'must be an ISO 8601 timestamp' })
      .transform((v) => new Date(v).toISOString())
      .optional()
      .meta({
        description:
          "When the grant should start (ISO 8601, any offset), at most the policy's maxStartDelayHours ahead; default now.",
      }),
    /** Emergency access (break glass): granted at once for a member of the policy's break-glass group, reviewed after. */
    emergency: z.boolean().optional().meta({
      description:
        "Emergency access (break glass): granted at once to a member of the policy's break-glass group, reviewed afterwards.",
    }),
  })
  .superRefine(exactlyOneTarget);
export type SubmitRequestBody = z.output<typeof SubmitRequestBody>;
export type SubmitRequestInput = z.input<typeof SubmitRequestBody>;

const requestShape = {
  id: Id.meta({ description: 'The request id.' }),
  requester: Upn.meta({ description: 'Who asked (UPN), for display and email.' }),
  /**
   * Who asked, as a stable key (`tenant:object id`): every "is this the requester" rule compares
   * this, since a UPN can be renamed or reassigned. `requester` is for display and email.
   */
  requesterId: z.string().min(1).max(300).meta({
    description:
      'Who asked, as a stable key (`<tenant id>:<object id>`): every "is this the requester" rule compares this, since a UPN can be renamed.',
  }),
  ...targetShape,
  /** The effective task names at submission; catalog edits do not change a request in flight. */
  tasks: z.array(TaskName).min(1).meta({
    description:
      'The task names the request covers, fixed at submission: catalog edits do not change a request in flight.',
  }),
  reason: z.string().max(1000).meta({ description: 'Why the requester needs the access.' }),
  ticket: z
    .string()
    .max(128)
    .nullable()
    .meta({ description: 'The change or incident ticket given with the request, if any.' }),
  durationHours: Hours.meta({ description: 'How long the grant lasts once it starts, in hours.' }),
  /** When given, the exact parameters every execution under this grant must use. */
  parameters: ParameterValues.nullable().meta({
    description: 'When given, the exact parameters every execution under this grant must use.',
  }),
  status: RequestStatusSchema.meta({
    description:
      '`pending`, then `approved` (and `ended` or `revoked`), or `denied`, `canceled`, `expired`; `failed` only for a system fault.',
  }),
  policyId: Id.meta({ description: 'The policy the request was judged by.' }),
  approvalType: ApprovalTypeSchema.meta({
    description: '`manual` (approvers decide) or `automatic` (granted at once).',
  }),
  /**
   * The first stage's group (the group that decides a single-stage request); for an automatic
   * request, the group told of it. Null only for auto-approved requests with no group to notify.
   */
  approverGroup: ApproverGroupName.nullable().meta({
    description:
      "The first stage's group; for an automatic request, the group told of it. Null for an automatic request with no group to tell.",
  }),
  /** Approvals needed in all stages together; 0 for auto-approved requests. */
  requiredApprovals: z
    .int()
    .min(0)
    .meta({ description: 'Approvals needed in all stages together; 0 for an automatic request.' }),
  /** Every decision, each tagged with its stage. */
  approvals: z.array(Approval).meta({ description: 'Every decision, each tagged with its stage.' }),
  /** The approval stages, in order (empty for an automatic request). */
  stages: z.array(RequestStage).max(MAX_STAGES),
  clientRequestId: z.string().max(128).nullable().meta({
    description: 'The id the caller gave so a retried submit returns this request instead of a new one.',
  }),
  createdAt: Timestamp.meta({ description: 'When it was submitted.' }),
  pendingUntil: Timestamp.meta({ description: 'It expires unless decided by then.' }),
  /** When it was approved or denied. */
  decidedAt: Timestamp.nullable().meta({ description: 'When it was approved or denied.' }),
  grantedAt: Timestamp.nullable().meta({ description: 'When the grant starts (or started).' }),
  expiresAt: Timestamp.nullable().meta({ description: 'When the grant ends.' }),
  /** When it reached a final status: set exactly when `isFinal(status)`. */
  endedAt: Timestamp.nullable().meta({ description: 'When it reached a final status.' }),
  /** Who canceled or revoked it; null when the system ended it. */
  endedBy: Upn.nullable().meta({ description: 'Who canceled or revoked it; null when the system ended it.' }),
  /** The revoke comment, "uses exhausted", or the fault behind `failed`. */
  endReason: z.string().max(MAX_COMMENT).nullable().meta({
    description: 'Why it ended early: the revoke comment, `uses exhausted`, or the fault behind `failed`.',
  }),
  /** The start the requester asked for, if any; the grant runs from max(startAt, approval). */
  startAt: Timestamp.nullable().meta({
    description:
      'The start the requester asked for, if any; the grant runs from the later of it and the approval.',
  }),
  /** A counted grant ends after this many successful executions; null: unlimited. */
  maxUses: z
    .int()
    .min(1)
    .max(MAX_USES)
    .nullable()
    .meta({ description: 'A counted grant ends after this many successful executions; null: unlimited.' }),
  /** Successful executions so far (counted only for a counted grant). */
  uses: z
    .int()
    .min(0)
    .meta({ description: 'Successful executions so far (counted only for a counted grant).' }),
  /** The policy's limits an extension is judged by, copied at submission like its approvals. */
  maxExtensions: z.int().min(0).max(MAX_EXTENSIONS).meta({
    description: 'How many extensions the grant may be asked for (from the policy, at submission).',
  }),
  maxDurationHours: Hours.nullable().meta({
    description: 'The longest grant, and extension, the policy allowed at submission, in hours.',
  }),
  pendingTimeoutHours: Hours.meta({
    description: 'How long a request or an extension may wait for a decision, in hours.',
  }),
  extensions: z.array(Extension).max(MAX_EXTENSIONS),
  /** Granted at once as emergency access (break glass), without approval. */
  emergency: z
    .boolean()
    .meta({ description: 'Granted at once as emergency access (break glass), without approval.' }),
  /** The post-incident review of an emergency use; null for any other request. */
  review: Review.nullable().meta({
    description: 'The review of an emergency use; null for any other request.',
  }),
  /** Decisions on this request need a token proving this (copied from the policy); null: none. */
  approverAuthContext: AuthContext.nullable().meta({
    description: 'The sign-in strength decisions on this request need (from the policy); null: none.',
  }),
  /** Set when an AI agent asked through the MCP tools (absent on every other request). */
  agent: RequestAgent.optional(),
};

/** Fields added after version 1, and the values a row written before them reads with. */
function upgradeStored(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const row = value as Record<string, unknown>;
  const group = typeof row.approverGroup === 'string' ? row.approverGroup : null;
  const required = typeof row.requiredApprovals === 'number' ? row.requiredApprovals : 0;
  const defaults: Record<string, unknown> = {
    // Before stages, a manual request had one group: one stage.
    stages:
      row.approvalType === 'manual' && group !== null
        ? [{ approverGroup: group, requiredApprovals: required }]
        : [],
    startAt: null,
    maxUses: null,
    uses: 0,
    inFlight: [],
    maxExtensions: 0,
    maxDurationHours: null,
    pendingTimeoutHours: 24,
    extensions: [],
    emergency: false,
    review: null,
    approverAuthContext: null,
  };
  const missing = Object.keys(defaults).filter((k) => !(k in row));
  return missing.length === 0
    ? value
    : { ...row, ...Object.fromEntries(missing.map((k) => [k, defaults[k]])) };
}

/**
 * A request as the domain keeps it (the request row). Rows written before stages, counted grants,
 * scheduled starts and extensions read as a single stage with none of them.
 */
export const Request = z.preprocess(
  upgradeStored,
  z
    .strictObject({
      ...requestShape,
      /** Executions admitted under a counted grant, not finished yet (never shown). */
      inFlight: z.array(UseClaim).max(MAX_IN_FLIGHT),
    })
    .superRefine(exactlyOneTarget),
);
export type Request = z.output<typeof Request>;

/** The request's own approval round. */
export function roundOf(request: Pick<Request, 'stages' | 'approvals'>): Round {
  return { stages: request.stages, approvals: request.approvals };
}

/** Every approver group a request names: its stages' and the group an automatic request tells. */
export function requestGroups(request: Pick<Request, 'stages' | 'approverGroup'>): string[] {
  return [
    ...new Set([
      ...request.stages.map((s) => s.approverGroup),
      ...(request.approverGroup === null ? [] : [request.approverGroup]),
    ]),
  ];
}

/** The extension that waits for a decision, if one does (at most one at a time). */
export function pendingExtension(request: Pick<Request, 'extensions'>): Extension | undefined {
  return request.extensions.find((e) => e.status === 'pending');
}

export const ExecutionStatus = {
  succeeded: 'succeeded',
  failed: 'failed',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

/** One execution under a request, as listed in its view. */
export const ExecutionSummary = z.strictObject({
  executionId: Id.meta({ description: 'The execution id, as audited.' }),
  task: TaskName.meta({ description: 'The task that ran.' }),
  status: z.enum(ExecutionStatus).meta({ description: '`succeeded` or `failed`.' }),
  executedAt: Timestamp.meta({ description: 'When it ran.' }),
});
export type ExecutionSummary = z.output<typeof ExecutionSummary>;

/** An extension as the request view shows it: its stages with their status. */
export const ExtensionView = Extension.extend({
  stages: z
    .array(StageView)
    .meta({ description: "Its approval stages (the request's), decided afresh for the extension." }),
  currentStage: z
    .int()
    .min(0)
    .nullable()
    .meta({ description: 'The stage that decides now (0-based), or null once decided.' }),
});
export type ExtensionView = z.output<typeof ExtensionView>;

/** The request view of the HTTP contract: the request, its stages and extensions, and its executions. */
export const RequestView = z
  .strictObject({
    ...requestShape,
    stages: z.array(StageView).meta({
      description:
        'Every approval stage in order, with its status and approvals (a single-group policy shows as one stage).',
    }),
    /** The stage that decides now (index), or null once decided. */
    currentStage: z
      .int()
      .min(0)
      .nullable()
      .meta({ description: 'The stage that decides now (0-based), or null once decided.' }),
    extensions: z
      .array(ExtensionView)
      .meta({ description: 'The extensions asked for, each decided like the request.' }),
    executions: z.array(ExecutionSummary).meta({ description: 'The executions under this request.' }),
  })
  .superRefine(exactlyOneTarget);
export type RequestView = z.output<typeof RequestView>;

export function toRequestView(request: Request, executions: readonly ExecutionSummary[]): RequestView {
  const { inFlight: _inFlight, ...shown } = request;
  const open = request.status === 'pending';
  return {
    ...shown,
    stages: stageViews(roundOf(request), open),
    currentStage: currentStage(roundOf(request), open),
    extensions: request.extensions.map((e) => {
      const round = { stages: request.stages, approvals: e.approvals };
      const waiting = e.status === 'pending';
      return { ...e, stages: stageViews(round, waiting), currentStage: currentStage(round, waiting) };
    }),
    executions: [...executions],
  };
}

// --- HTTP bodies and queries that carry no rule of their own -----------------------------------

/** Body of `POST /api/requests/{id}/approve` and `/deny`. */
export const DecisionBody = z.strictObject({
  comment: z
    .string()
    .trim()
    .max(MAX_COMMENT)
    .optional()
    .meta({ description: 'A comment for the requester and the audit log.' }),
});
export type DecisionBody = z.output<typeof DecisionBody>;

/** Body of `POST /api/requests/{id}/revoke`. */
export const RevokeBody = DecisionBody;
export type RevokeBody = DecisionBody;

const queryFlag = z.enum(['true', 'false']).transform((v) => v === 'true');

/**
 * Query of `GET /api/requests` (every value arrives as a string): the filters, and `decided=true`
 * for the requests the caller has approved or denied (the portal's Approvals page shows them as what
 * they decided before).
 */
export const ListRequestsQuery = z.strictObject({
  status: RequestStatusSchema.optional().meta({ description: 'Only requests in this status.' }),
  mine: queryFlag.optional().meta({ description: "Only the caller's own requests." }),
  approvable: queryFlag.optional().meta({ description: 'Only requests the caller can decide on now.' }),
  decided: queryFlag.optional().meta({
    description: 'Only requests the caller decided on (approved or denied, in any stage, or an extension).',
  }),
  continuationToken: ContinuationTokenQuery,
});
export type ListRequestsQuery = z.output<typeof ListRequestsQuery>;

/** Body of `POST /api/execute`. */
export const ExecuteBody = z.strictObject({
  task: TaskName.meta({ description: 'The task to run.' }),
  parameters: ParameterValues.optional().meta({
    description: "The task's parameters; must equal the grant's when the request fixed them.",
  }),
  requestId: Id.optional().meta({
    description: 'The grant to run under; without it, any live grant of the caller that covers the task.',
  }),
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
  /** Whether the requester is in the policy's break-glass group (only read for `emergency`). */
  readonly isBreakGlassMember?: boolean;
}

/** A start this far in the past still reads as "now" (clocks differ; a form takes a while to send). */
export const START_LEEWAY_MS = 5 * 60_000;

/** Refuses a `startAt` in the past (beyond the leeway) or further ahead than the policy allows. */
export function assertStart(startAt: string, policy: Pick<Policy, 'maxStartDelayHours'>, now: Date): void {
  const at = instantOf(startAt);
  if (at < now.getTime() - START_LEEWAY_MS)
    throw new DomainError('INVALID_START', `startAt ${startAt} is in the past`, {
      errors: [{ pointer: '#/startAt', detail: 'must not be in the past' }],
    });
  if (at > now.getTime() + hoursToMs(policy.maxStartDelayHours))
    throw new DomainError(
      'INVALID_START',
      `startAt ${startAt} is more than the policy's ${policy.maxStartDelayHours} hours ahead`,
      {
        errors: [
          { pointer: '#/startAt', detail: `must be at most ${policy.maxStartDelayHours} hours ahead` },
        ],
      },
    );
}

/** When a grant approved at `now` starts: the scheduled start, unless that has passed. */
export function grantStart(startAt: string | null, now: Date): Date {
  return startAt !== null && instantOf(startAt) > now.getTime() ? new Date(startAt) : now;
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

  const emergency = body.emergency === true;
  if (emergency) assertEmergency(policy, body, input.isBreakGlassMember === true);
  if (body.startAt !== undefined) assertStart(body.startAt, policy, now);
  const stages = policyStages(policy, settings.defaultApproverGroup);
  if (stages === undefined)
    throw new DomainError(
      'NO_APPROVER_GROUP',
      `The policy for the ${describeTarget(target)} names no approver group and no default group is configured`,
    );
  // An emergency is granted at once, like an automatic approval; its review comes after.
  const auto = policy.approvalType === 'auto' || emergency;
  const approverGroup = stages[0]?.approverGroup ?? policy.approverGroup ?? settings.defaultApproverGroup;
  const startAt = body.startAt ?? null;
  // An emergency must be reviewable: someone must be told of it and be able to close its review.
  if (emergency && stages.length === 0 && approverGroup === null)
    throw new DomainError(
      'BREAK_GLASS_NOT_ALLOWED',
      `Emergency access to the ${describeTarget(target)} cannot be reviewed by anyone: its policy names no approver group and no default group is configured; ask an admin to set one`,
      { errors: [{ pointer: '#/emergency', detail: 'no approver group could review this emergency' }] },
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
    requiredApprovals: totalApprovals(stages),
    approvals: [],
    stages,
    clientRequestId: body.clientRequestId ?? null,
    createdAt,
    pendingUntil: toTimestamp(addHours(now, policy.pendingTimeoutHours)),
    decidedAt: auto ? createdAt : null,
    ...(auto
      ? grantWindow(body.durationHours, grantStart(startAt, now))
      : { grantedAt: null, expiresAt: null }),
    endedAt: null,
    endedBy: null,
    endReason: null,
    startAt,
    maxUses: policy.maxUses ?? null,
    uses: 0,
    inFlight: [],
    maxExtensions: policy.maxExtensions,
    maxDurationHours: policy.maxDurationHours ?? null,
    pendingTimeoutHours: policy.pendingTimeoutHours,
    extensions: [],
    emergency,
    review: emergency ? OPEN_REVIEW : null,
    approverAuthContext: policy.approverAuthContext ?? null,
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
 * The state a set of single-stage reviews calls for: `tallyRound` of one stage. Kept for callers
 * that judge a bare list of approvals.
 */
export function tally(
  approvals: readonly Approval[],
  requiredApprovals: number,
): 'pending' | 'approved' | 'denied' {
  return tallyRound({ stages: [{ approverGroup: 'x', requiredApprovals }], approvals }).state;
}

/** Whether `who` has decided on `request` already, in any stage (by key; by name only for approvals without one). */
export function hasDecided(request: Pick<Request, 'approvals'>, who: Pick<Actor, 'id' | 'upn'>): boolean {
  return hasDecidedIn(request, who);
}

/** Who decides: the signed-in approver, or the one an emailed link was minted for. */
export type Approver = Pick<Actor, 'id' | 'upn'>;

export interface DecisionInput {
  readonly approver: Approver;
  readonly decision: Decision;
  readonly comment?: string | null | undefined;
  /** The stage an emailed link was minted for: the decision counts only while that stage is open. */
  readonly linkStage?: number | undefined;
  /**
   * How the approver signed in (`acrs`, `amr`), checked against the request's `approverAuthContext`.
   * Absent: nothing proved (an emailed link alone), so a request that asks for step-up is refused.
   */
  readonly strength?: AuthStrength | undefined;
}

/**
 * The identity refusals of a decision stand first (a stranger learns nothing about step-up); then a
 * decision on a request that asks for a stronger sign-in is refused 401 with its claims challenge.
 */
export function identityOrStepUp(
  refusal: DomainError | undefined,
  required: string | null,
  strength: AuthStrength | undefined,
): DomainError | undefined {
  // Also "no such extension": a stronger sign-in would not make it exist.
  if (
    refusal !== undefined &&
    (refusal.code === 'SELF_APPROVAL' || refusal.code === 'NOT_AN_APPROVER' || refusal.code === 'NOT_FOUND')
  )
    return refusal;
  return stepUpRefusal(required, strength ?? NO_STRENGTH);
}

/**
 * `recorded`: an approval that leaves its stage waiting for more. `stageApproved`: the stage is
 * approved and the next one opens (the request stays pending). `approved`: the last stage is
 * approved and the grant is set (from now, or from the scheduled start). `denied`: a denial.
 */
export type DecisionOutcome = 'recorded' | 'stageApproved' | 'approved' | 'denied';

function notAnApprover(who: string, groups: readonly string[]): DomainError {
  return new DomainError(
    'NOT_AN_APPROVER',
    groups.length === 0
      ? `${who} may not decide: this request has no approver group`
      : `${who} is not a member of the approver group${groups.length > 1 ? 's' : ''} ${groups.map((g) => JSON.stringify(g)).join(', ')} of this request`,
  );
}

/**
 * Why `approver` may not decide on `request` now, or undefined if they may. Identity refusals come
 * first (they hold whatever the state), then this approver's own earlier decision, then the state,
 * then the stage (only the open stage's members decide, and a link only in its own stage).
 */
export function decisionRefusal(
  request: Request,
  approver: Approver,
  members: GroupMembers,
  now: Date,
  linkStage?: number,
): DomainError | undefined {
  const who = normalizeUpn(approver.upn);
  // By stable key only: a UPN can be renamed, or be claimed by a token that merely carries it.
  if (approver.id === request.requesterId)
    return new DomainError('SELF_APPROVAL', 'Requesters may not decide on their own request');
  // An agent's sponsor answers for it: approving its request would be approving their own.
  if (request.agent?.sponsorId != null && approver.id === request.agent.sponsorId)
    return new DomainError('SELF_APPROVAL', "A sponsor may not decide on their own agent's request");
  // Any group the request names: a member of an automatic request's group is told it is not pending.
  const groups = requestGroups(request);
  if (
    !isApproverOfAny(
      groups.map((approverGroup) => ({ approverGroup, requiredApprovals: 1 })),
      members,
      approver.id,
    )
  )
    return notAnApprover(who, groups);
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
  return stageRefusal(roundOf(request), approver.id, members, linkStage);
}

/** True if `approver` could decide on `request` now: the `approvable=true` filter. */
export function isApprovableBy(
  request: Request,
  approver: Approver,
  members: GroupMembers,
  now: Date,
): boolean {
  return decisionRefusal(request, approver, members, now) === undefined;
}

/**
 * Records one approver's decision. Throws the refusal of `decisionRefusal`.
 */
export function applyDecision(
  request: Request,
  input: DecisionInput,
  members: GroupMembers,
  now: Date,
): { outcome: DecisionOutcome; request: Request } {
  const t = decideTransition(request, input, members, now);
  if (t.kind !== 'applied') throw t.refusal;
  return { outcome: t.outcome, request: t.request };
}

/**
 * What a decision does to a round: the outcome, judged from the stage that was open before it and
 * the tally after it.
 */
export function roundOutcome(before: Round, after: Round): DecisionOutcome {
  const was = tallyRound(before);
  const now = tallyRound(after);
  if (now.state === 'approved') return 'approved';
  if (now.state === 'denied') return 'denied';
  return was.state === 'pending' && now.stage > was.stage ? 'stageApproved' : 'recorded';
}

/**
 * `applyDecision` as a value. `alreadyApplied`: this approver's decision is in the row and moved
 * the request on — it decided it, or its stage was approved and the next one opened — so a retry is
 * refused as ALREADY_DECIDED, like the first answer it may have lost, while its follow-ups (the
 * orchestration's event, which notifies the next stage) run again.
 */
export function decideTransition(
  request: Request,
  input: DecisionInput,
  members: GroupMembers,
  now: Date,
): Transition<DecisionOutcome> {
  const found = decisionRefusal(request, input.approver, members, now, input.linkStage);
  const stepUp = identityOrStepUp(found, request.approverAuthContext, input.strength);
  if (stepUp !== undefined) return { kind: 'refused', refusal: stepUp };
  const refusal = found;
  if (refusal !== undefined) {
    const { status } = request;
    if (refusal.code === 'ALREADY_DECIDED') {
      if (status === 'approved' || status === 'denied')
        return { kind: 'alreadyApplied', outcome: status, request, refusal };
      const own = request.approvals.find((a) => a.approverId === input.approver.id);
      const open = currentStage(roundOf(request), status === 'pending');
      if (own !== undefined && open !== null && (own.stage ?? 0) < open)
        return { kind: 'alreadyApplied', outcome: 'stageApproved', request, refusal };
    }
    return { kind: 'refused', refusal };
  }

  const at = toTimestamp(now);
  const round = roundOf(request);
  const stage = currentStage(round, true) ?? 0;
  const approvals = withDecision(round, input.approver, input.decision, input.comment, at, stage);
  const outcome = roundOutcome(round, { stages: request.stages, approvals });
  switch (outcome) {
    case 'recorded':
    case 'stageApproved':
      return { kind: 'applied', outcome, request: { ...request, approvals } };
    case 'approved':
      return {
        kind: 'applied',
        outcome,
        request: {
          ...request,
          approvals,
          status: 'approved',
          decidedAt: at,
          ...grantWindow(request.durationHours, grantStart(request.startAt, now)),
        },
      };
    case 'denied':
      return {
        kind: 'applied',
        outcome,
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

/**
 * Admins, the request's approvers (the members of any of its groups, and whoever decided on it) and
 * the requester may revoke.
 */
export function mayRevoke(request: Request, actor: Actor, members: GroupMembers): boolean {
  const groups = requestGroups(request).map((approverGroup) => ({ approverGroup, requiredApprovals: 1 }));
  return (
    actor.isAdmin ||
    actor.id === request.requesterId ||
    isApproverOfAny(groups, members, actor.id) ||
    // By key only: an approval recorded before keys were kept grants nothing to whoever holds its
    // UPN now (the name fallback of `hasDecided` only refuses a second decision).
    request.approvals.some((a) => a.approverId === actor.id) ||
    request.extensions.some((e) => e.approvals.some((a) => a.approverId === actor.id))
  );
}

export interface RevokeInput {
  readonly actor: Actor;
  readonly comment?: string | null | undefined;
}

/** Ends a live (or scheduled) grant early. Throws REVOKE_NOT_ALLOWED, then REQUEST_NOT_LIVE. */
export function revoke(request: Request, input: RevokeInput, members: GroupMembers, now: Date): Request {
  const t = revokeTransition(request, input, members, now);
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
  members: GroupMembers,
  now: Date,
): Transition<'revoked'> {
  if (!mayRevoke(request, input.actor, members))
    return {
      kind: 'refused',
      refusal: new DomainError(
        'REVOKE_NOT_ALLOWED',
        'Only an admin, an approver of this request or its requester may revoke it',
      ),
    };
  // A scheduled grant may be revoked before it starts, too.
  if (!isGranted(request, now)) {
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
      extensions: closeWaitingExtension(request, 'canceled', now),
    },
  };
}

/** The extensions with the one that waits (if any) closed as `status`: the grant it would extend is over. */
export function closeWaitingExtension(
  request: Pick<Request, 'extensions'>,
  status: 'canceled' | 'expired',
  now: Date,
): Extension[] {
  return request.extensions.map((e) =>
    e.status === 'pending'
      ? { ...e, status, decidedAt: status === 'expired' ? e.pendingUntil : toTimestamp(now) }
      : e,
  );
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
  return {
    outcome: 'ended',
    request: {
      ...request,
      status: 'ended',
      endedAt: request.expiresAt,
      // An extension still waiting when the grant ends expires with it.
      extensions: closeWaitingExtension(request, 'expired', now),
    },
  };
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
      extensions: closeWaitingExtension(request, 'canceled', now),
    },
  };
}

// --- Visibility and use -----------------------------------------------------------------------

/** `GET /api/requests/{id}`: the requester, its approvers (of every stage), admins and auditors. */
export function canView(request: Request, actor: Actor, members: GroupMembers): boolean {
  return actor.isAuditor || mayRevoke(request, actor, members);
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
 * `ignoreStart`: judge a scheduled grant as if it had started (to tell "not yet" from "no").
 */
export function coverageRefusal(
  request: Request,
  query: ExecutionQuery,
  now: Date,
  ignoreStart = false,
): string | undefined {
  if (query.requestId !== undefined && request.id !== query.requestId) return 'a different request was named';
  if (request.requesterId !== query.requesterId) return 'the request belongs to someone else';
  if (!(ignoreStart ? isGranted(request, now) : isLive(request, now)))
    return request.status !== 'approved'
      ? `the request is ${request.status}${request.endReason === USES_EXHAUSTED ? ` (${USES_EXHAUSTED})` : ''}`
      : isScheduled(request, now)
        ? `the grant starts at ${String(request.grantedAt)}`
        : `the grant ended at ${String(request.expiresAt)}`;
  if (!request.tasks.includes(query.task))
    return `the request does not grant task ${JSON.stringify(query.task)}`;
  if (request.parameters !== null && !sameParameters(request.parameters, query.parameters ?? {}))
    return 'the parameters differ from the ones approved';
  return undefined;
}

/** The `endReason` of a counted grant whose last use ran. */
export const USES_EXHAUSTED = 'uses exhausted';

/**
 * The grant an execution runs under: among the requests that cover it, an unlimited one before a
 * counted one (a use is only spent where nothing else covers), then the one that expires last (then
 * by id), so the audit points at the grant that will still hold. Throws GRANT_NOT_STARTED when only
 * a scheduled grant would cover it, else NO_ACTIVE_GRANT, with the reason when a single request of
 * the caller's own was named.
 */
export function requireCoveringGrant(
  requests: readonly Request[],
  query: ExecutionQuery,
  now: Date,
): Request {
  const counted = (r: Request) => (r.maxUses === null ? 0 : 1);
  const covering = requests
    .filter((r) => coverageRefusal(r, query, now) === undefined)
    .sort(
      (a, b) =>
        counted(a) - counted(b) || expiryOf(b) - expiryOf(a) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
    );
  const chosen = covering[0];
  if (chosen !== undefined) return chosen;
  const scheduled = requests
    .filter((r) => isScheduled(r, now) && coverageRefusal(r, query, now, true) === undefined)
    .sort((a, b) => instantOf(a.grantedAt ?? '') - instantOf(b.grantedAt ?? ''))[0];
  if (scheduled !== undefined)
    throw new DomainError(
      'GRANT_NOT_STARTED',
      `Your grant for task ${JSON.stringify(query.task)} (request ${scheduled.id}) starts at ${String(scheduled.grantedAt)}`,
    );
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
