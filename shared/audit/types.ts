/**
 * What the rest of ZSA hands to the audit log. The log itself (hash chain, storage, export) lives
 * beside this file; callers only ever append.
 */

/** The stable catalogue of action codes (documented for auditors in docs/audit.md). */
export const AuditAction = {
  PamEnabled: 'pam.enabled',
  PamDisabled: 'pam.disabled',
  ApproverGroupPut: 'approverGroup.put',
  ApproverGroupDeleted: 'approverGroup.deleted',
  /** Members or system accounts saved before they were keyed were resolved through the directory. */
  MembersResolved: 'config.membersResolved',
  TaskPut: 'catalog.task.put',
  TaskDeleted: 'catalog.task.deleted',
  RolePut: 'catalog.role.put',
  RoleDeleted: 'catalog.role.deleted',
  RoleGroupPut: 'catalog.roleGroup.put',
  RoleGroupDeleted: 'catalog.roleGroup.deleted',
  PolicyCreated: 'policy.created',
  PolicyUpdated: 'policy.updated',
  PolicyDeleted: 'policy.deleted',
  RequestSubmitted: 'request.submitted',
  RequestRefused: 'request.refused',
  RequestApprovalRecorded: 'request.approvalRecorded',
  RequestApproved: 'request.approved',
  /** A stage of a multi-stage request got its approvals (detail: stage, approverGroup). */
  StageApproved: 'request.stageApproved',
  /** The next stage opened: its approvers are asked now (detail: stage, approverGroup). */
  StageOpened: 'request.stageOpened',
  RequestDenied: 'request.denied',
  RequestCanceled: 'request.canceled',
  RequestExpired: 'request.expired',
  /** A system fault stopped the request (its workflow failed or never started); the reason says which. */
  RequestFailed: 'request.failed',
  DecisionRefused: 'request.decisionRefused',
  /** Approved with a later start: the grant's window is set, access starts at `grantedAt`. */
  GrantScheduled: 'grant.scheduled',
  GrantStarted: 'grant.started',
  GrantEnded: 'grant.ended',
  GrantRevoked: 'grant.revoked',
  /** A counted grant's execution succeeded and used one of its uses (detail: uses, maxUses). */
  UseCounted: 'grant.useCounted',
  ExtensionRequested: 'extension.requested',
  ExtensionApprovalRecorded: 'extension.approvalRecorded',
  ExtensionStageApproved: 'extension.stageApproved',
  ExtensionApproved: 'extension.approved',
  ExtensionDenied: 'extension.denied',
  ExtensionExpired: 'extension.expired',
  ExtensionCanceled: 'extension.canceled',
  /**
   * A grant made at once as emergency access (break glass), recorded with its `request.submitted`
   * and `grant.started` (detail: reason, durationHours, expiresAt, breakGlassGroup).
   */
  EmergencyUsed: 'emergency.used',
  /** An emergency use's review was closed (detail: outcome justified|unjustified, comment). */
  EmergencyReviewed: 'emergency.reviewed',
  /** The reviewers of a still open emergency review were reminded (detail: reviewers, n). */
  EmergencyReminded: 'emergency.reminded',
  /** A review was refused (not a reviewer, the requester, closed, no step-up): the reason says which. */
  ReviewRefused: 'emergency.reviewRefused',
  ExecutionStarted: 'execution.started',
  ExecutionSucceeded: 'execution.succeeded',
  ExecutionFailed: 'execution.failed',
  ExecutionRefused: 'execution.refused',
  /**
   * An AI agent called one of ZSA's MCP tools (detail: tool, mode, outcome, and `client`); the
   * stories the tool ran write their usual rows beside it.
   */
  AgentToolCalled: 'agent.toolCalled',
  NotificationSent: 'notification.sent',
  NotificationFailed: 'notification.failed',
  AuditExported: 'audit.exported',
  AuditAnchored: 'audit.anchored',
  /**
   * The daily verification checked every chain (outcome success or failure; detail: checked, chains,
   * anchors, firstBroken, anchorLagSeconds).
   */
  AuditVerified: 'audit.verified',
} as const;
export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];

export const AuditOutcome = { Success: 'success', Failure: 'failure', Refused: 'refused' } as const;
export type AuditOutcome = (typeof AuditOutcome)[keyof typeof AuditOutcome];

/** Who acted: a signed-in user, or ZSA itself (timers, orchestrations). */
export type AuditActor =
  | { kind: 'user'; id: string; upn: string; roles: readonly string[]; tenantId?: string | undefined }
  | { kind: 'system'; id: 'zsa'; upn: 'zsa' };

export const SYSTEM_ACTOR: AuditActor = { kind: 'system', id: 'zsa', upn: 'zsa' };

/** Where the call came from (absent for system events). */
export interface AuditOrigin {
  correlationId?: string | undefined;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
  /**
   * The client the caller acted through when it is not a person's own (an AI agent through the MCP
   * tools: `{ kind: 'agent', appId, name, mode, sponsor }`): recorded as `detail.client` on every
   * row the call writes.
   */
  client?: Readonly<Record<string, unknown>> | undefined;
}

export interface AuditEventInput {
  /**
   * The event's id (the row's `id` column, at most 64 characters). Absent: a random UUID. Given: a
   * deterministic id naming the event, so an event appended again after a crash (the request
   * lifecycle's outbox is at-least-once) is recognisable as the same event.
   */
  id?: string | undefined;
  action: AuditAction;
  actor: AuditActor;
  outcome: AuditOutcome;
  requestId?: string | undefined;
  task?: string | undefined;
  /** A short human reason (refusal code and message, failure reason). */
  reason?: string | undefined;
  /** Structured detail: before/after for configuration, parameters (secrets are digested by the log). */
  detail?: Record<string, unknown> | undefined;
  origin?: AuditOrigin | undefined;
}

export interface AuditSink {
  /**
   * Appends one event, durably, and resolves with its id once stored. Rejects (never swallows) when
   * it cannot be stored: callers that must fail closed (execution) rely on that.
   */
  append(event: AuditEventInput): Promise<{ id: string }>;
}
