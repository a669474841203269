/**
 * The lifecycle event contract: what ZSA publishes on the Service Bus topic `zsa-events` for
 * subscribers (a SIEM, Power Automate's Service Bus trigger). One event per audited lifecycle
 * transition, derived from the audit event itself, so the stream says no more than the audit and
 * far less: who, what, which request, which status. Never a decision link, a token, a parameter
 * value, a comment or an executor's answer.
 *
 * Pure: no I/O, no clock, no randomness.
 */
import { z } from 'zod';
import { AuditAction, type AuditActor, type AuditEventInput } from '#shared/audit/types';
import { ScopeSchema, type Target } from '#shared/domain/catalog';
import { Id, RoleGroupName, RoleName, TaskName } from '#shared/domain/names';
import { ApprovalType } from '#shared/domain/policy';
import { ExecutionStatus, RequestStatus, RequestStatusSchema, USES_EXHAUSTED } from '#shared/domain/request';
import { Timestamp } from '#shared/domain/time';

export const EVENT_SCHEMA = 'zsa.event';
/** Bumped on any change a v1 reader would misread; new event types and fields are not such changes. */
export const EVENT_VERSION = 1;

/** Every event type, in the order a request lives them. */
export const LifecycleEventType = {
  submitted: 'submitted',
  /** A stage of a multi-stage request opened: its approvers are asked now (`stage`). */
  stageOpened: 'stage.opened',
  approved: 'approved',
  denied: 'denied',
  canceled: 'canceled',
  expired: 'expired',
  /** The grant went live: at approval, or when its scheduled start is reached. */
  granted: 'granted',
  /** Granted at once as emergency access (break glass), without approval; a review follows. */
  emergencyUsed: 'emergency.used',
  /** The requester asked for more hours on the live grant (`extensionId`). */
  extensionRequested: 'extension.requested',
  /** An extension was approved: the grant lasts longer. */
  extended: 'extended',
  extensionDenied: 'extension.denied',
  /** An extension got no decision in time, or the grant ended while it waited. */
  extensionExpired: 'extension.expired',
  extensionCanceled: 'extension.canceled',
  /** The grant is over: its window passed, or (`endReason`) its last use ran. */
  ended: 'ended',
  revoked: 'revoked',
  failed: 'failed',
  executionSucceeded: 'execution.succeeded',
  executionFailed: 'execution.failed',
  /** An emergency use's review was closed (justified or unjustified). */
  reviewClosed: 'review.closed',
} as const;
export type LifecycleEventType = (typeof LifecycleEventType)[keyof typeof LifecycleEventType];

/** A request's status after the event, or an execution's outcome for execution events. */
export const EventStatus = { ...RequestStatus, ...ExecutionStatus } as const;
export type EventStatus = (typeof EventStatus)[keyof typeof EventStatus];

export const EventActor = z.strictObject({
  kind: z.enum(['user', 'system']),
  /** `<tenant id>:<object id>` for users (stable), `zsa` for ZSA itself. */
  id: z.string().min(1).max(300),
  /** For display only: a UPN can be renamed or reassigned. */
  upn: z.string().min(1).max(320),
});

export const LifecycleEvent = z
  .strictObject({
    schema: z.literal(EVENT_SCHEMA),
    version: z.literal(EVENT_VERSION),
    /** The audit event's id, also the Service Bus messageId: a repeat of an event has the same id. */
    id: z.string().min(1).max(64),
    type: z.enum(LifecycleEventType),
    /** Null for an execution under no request (a system account, an admin while access is disabled). */
    requestId: Id.nullable(),
    /** When ZSA recorded the event (UTC). */
    at: Timestamp,
    actor: EventActor,
    /** Exactly one of task, role, roleGroup: what the request is for, or the task an execution ran. */
    task: TaskName.optional(),
    role: RoleName.optional(),
    roleGroup: RoleGroupName.optional(),
    status: z.enum(EventStatus),
    /** Execution events only. */
    executionId: Id.optional(),
    /** Stage events only: which stage (0-based). */
    stage: z.int().min(0).optional(),
    /** Extension events only: which extension of the grant. */
    extensionId: z
      .string()
      .regex(/^[1-9][0-9]?$/)
      .optional(),
    /** `ended` only: `expired` (its window passed) or `uses exhausted` (a counted grant's last use ran). */
    endReason: z.enum(['expired', USES_EXHAUSTED]).optional(),
  })
  .refine(
    (e) => [e.task, e.role, e.roleGroup].filter((name) => name !== undefined).length === 1,
    'an event names exactly one of task, role or roleGroup',
  );
export type LifecycleEvent = z.output<typeof LifecycleEvent>;

/**
 * The grant's status after an extension closed by the system: still running, unless the detail says
 * the grant itself ended (an extension expires with its grant) or was revoked.
 */
function statusOfGrant(input: AuditEventInput): EventStatus {
  const status = RequestStatusSchema.safeParse(input.detail?.status);
  return status.success ? status.data : 'approved';
}

interface Mapping {
  type: LifecycleEventType;
  /** The status the event leaves behind; `submitted` depends on whether approval was automatic. */
  status: EventStatus | ((input: AuditEventInput) => EventStatus);
}

/**
 * Which audit actions are lifecycle events. Keyed by the action's text, so that an action another
 * change adds is classified here (test/unit/events checks every catalogued action is, one way or
 * the other) without this file failing to compile in between.
 */
const EVENT_OF_ACTION: Readonly<Partial<Record<string, Mapping>>> = {
  [AuditAction.RequestSubmitted]: {
    type: 'submitted',
    // An emergency is granted at once whatever the policy's approval type.
    status: (input) =>
      input.detail?.approvalType === ApprovalType.auto || input.detail?.emergency === true
        ? 'approved'
        : 'pending',
  },
  [AuditAction.StageOpened]: { type: 'stage.opened', status: 'pending' },
  [AuditAction.RequestApproved]: { type: 'approved', status: 'approved' },
  [AuditAction.RequestDenied]: { type: 'denied', status: 'denied' },
  [AuditAction.RequestCanceled]: { type: 'canceled', status: 'canceled' },
  [AuditAction.RequestExpired]: { type: 'expired', status: 'expired' },
  'request.failed': { type: 'failed', status: 'failed' },
  [AuditAction.GrantStarted]: { type: 'granted', status: 'approved' },
  [AuditAction.GrantEnded]: { type: 'ended', status: 'ended' },
  [AuditAction.EmergencyUsed]: { type: 'emergency.used', status: 'approved' },
  // The grant may have ended long before its review: the status it had then (detail.status).
  [AuditAction.EmergencyReviewed]: { type: 'review.closed', status: statusOfGrant },
  // The grant runs on while its extensions come and go.
  [AuditAction.ExtensionRequested]: { type: 'extension.requested', status: 'approved' },
  [AuditAction.ExtensionApproved]: { type: 'extended', status: 'approved' },
  [AuditAction.ExtensionDenied]: { type: 'extension.denied', status: 'approved' },
  [AuditAction.ExtensionExpired]: { type: 'extension.expired', status: statusOfGrant },
  [AuditAction.ExtensionCanceled]: { type: 'extension.canceled', status: statusOfGrant },
  [AuditAction.GrantRevoked]: { type: 'revoked', status: 'revoked' },
  [AuditAction.ExecutionSucceeded]: { type: 'execution.succeeded', status: 'succeeded' },
  [AuditAction.ExecutionFailed]: { type: 'execution.failed', status: 'failed' },
};

/**
 * Audited actions that are deliberately not events: configuration, refusals (nothing changed),
 * an execution's intent (its outcome follows), a single approval of several needed (the decision
 * follows), notifications and the audit's own housekeeping.
 */
export const NOT_EVENTS: readonly string[] = [
  AuditAction.PamEnabled,
  AuditAction.PamDisabled,
  AuditAction.ApproverGroupPut,
  AuditAction.ApproverGroupDeleted,
  AuditAction.TaskPut,
  AuditAction.TaskDeleted,
  AuditAction.RolePut,
  AuditAction.RoleDeleted,
  AuditAction.RoleGroupPut,
  AuditAction.RoleGroupDeleted,
  AuditAction.PolicyCreated,
  AuditAction.PolicyUpdated,
  AuditAction.PolicyDeleted,
  // Members and system accounts resolved to their directory ids (a configuration migration).
  'config.membersResolved',
  AuditAction.RequestRefused,
  AuditAction.RequestApprovalRecorded,
  // A stage approved is followed by the next stage opened (or by the request approved).
  AuditAction.StageApproved,
  // Approved with a later start: `approved` says so, and `granted` follows at the start.
  AuditAction.GrantScheduled,
  // The execution's own event says it; the last use also ends the grant (`ended`).
  AuditAction.UseCounted,
  AuditAction.ExtensionApprovalRecorded,
  AuditAction.ExtensionStageApproved,
  AuditAction.DecisionRefused,
  // A reminder changes nothing; a refused review neither.
  AuditAction.EmergencyReminded,
  AuditAction.ReviewRefused,
  AuditAction.ExecutionStarted,
  AuditAction.ExecutionRefused,
  // An agent's tool call: the request and execution events it causes are the lifecycle.
  AuditAction.AgentToolCalled,
  AuditAction.NotificationSent,
  AuditAction.NotificationFailed,
  AuditAction.AuditExported,
  AuditAction.AuditAnchored,
  // The daily verification's result is the audit's health, not a request's (its alert reads it).
  AuditAction.AuditVerified,
];

/** The audit actions that become events. */
export const EVENT_ACTIONS: readonly string[] = Object.keys(EVENT_OF_ACTION);

export function isLifecycleAction(action: string): boolean {
  return EVENT_OF_ACTION[action] !== undefined;
}

const isExecution = (action: string) =>
  action === AuditAction.ExecutionSucceeded || action === AuditAction.ExecutionFailed;

/**
 * What the event is about, as far as the audit event says: the task an execution ran, the target
 * a submission names, or the task of a task request. Undefined for the later events of a role or
 * role-group request, whose audit rows name no task: the caller looks the request up.
 */
export function targetFromAudit(input: AuditEventInput): Target | undefined {
  if (!isExecution(input.action)) {
    const target = z
      .strictObject({ scope: ScopeSchema, name: z.string().min(1) })
      .safeParse(input.detail?.target);
    if (target.success) return target.data;
  }
  return input.task === undefined ? undefined : { scope: 'task', name: input.task };
}

/** Whether building the event needs the request's target looked up first. */
export function needsTargetLookup(input: AuditEventInput): boolean {
  return isLifecycleAction(input.action) && targetFromAudit(input) === undefined;
}

/**
 * The event for an audit event that was just appended under `id`, or undefined when the action is
 * not a lifecycle event. `target` is what `targetFromAudit` could not tell (looked up by the caller).
 * Throws when the event would break its own schema (no target known): a bug, not a runtime state.
 */
export function lifecycleEventOf(
  input: AuditEventInput,
  id: string,
  at: Date,
  target?: Target,
): LifecycleEvent | undefined {
  const mapping = EVENT_OF_ACTION[input.action];
  if (!mapping) return undefined;
  const about = targetFromAudit(input) ?? target;
  const executionId = isExecution(input.action) ? input.detail?.executionId : undefined;
  const stage = input.action === AuditAction.StageOpened ? input.detail?.stage : undefined;
  const extensionId = input.action.startsWith('extension.') ? input.detail?.extensionId : undefined;
  return LifecycleEvent.parse({
    schema: EVENT_SCHEMA,
    version: EVENT_VERSION,
    id,
    type: mapping.type,
    requestId: input.requestId ?? null,
    at: at.toISOString(),
    actor: actorOf(input.actor),
    ...(about ? { [about.scope]: about.name } : {}),
    status: typeof mapping.status === 'function' ? mapping.status(input) : mapping.status,
    ...(typeof executionId === 'string' ? { executionId } : {}),
    ...(typeof stage === 'number' ? { stage } : {}),
    ...(typeof extensionId === 'string' ? { extensionId } : {}),
    // Only the two known reasons, never the audit's text (a revoke's reason is a comment).
    ...(mapping.type === 'ended' ? { endReason: endReasonOf(input) } : {}),
  });
}

/** Why a grant ended: its last use ran (the audit's reason, or detail, says so), or its window passed. */
function endReasonOf(input: AuditEventInput): 'expired' | typeof USES_EXHAUSTED {
  return input.reason === USES_EXHAUSTED || input.detail?.endReason === USES_EXHAUSTED
    ? USES_EXHAUSTED
    : 'expired';
}

/** The actor without the caller's roles, tenant or origin: a subscriber needs who, not how. */
function actorOf(actor: AuditActor): z.output<typeof EventActor> {
  return { kind: actor.kind, id: actor.id, upn: actor.upn };
}
