import { describe, expect, it } from 'vitest';
import { AuditAction, SYSTEM_ACTOR, type AuditEventInput } from '#shared/audit/types';
import {
  EVENT_ACTIONS,
  LifecycleEvent,
  NOT_EVENTS,
  lifecycleEventOf,
  needsTargetLookup,
} from '#shared/events/lifecycle';
import { toEventMessage } from '#shared/events/publisher';

const AT = new Date('2030-05-01T09:00:00.000Z');
const ANN = {
  kind: 'user',
  id: 'tid:oid-ann',
  upn: 'ann@contoso.com',
  roles: ['PAM.Admin'],
  tenantId: 'tid',
} as const;

/** An audit event as the request stories record it (builder). */
function anAuditEvent(overrides: Partial<AuditEventInput> = {}): AuditEventInput {
  return {
    action: AuditAction.RequestApproved,
    actor: ANN,
    outcome: 'success',
    requestId: 'req-1',
    task: 'Exchange\\New-MoveRequest',
    origin: { correlationId: 'c1', clientIp: '10.0.0.1', userAgent: 'curl' },
    ...overrides,
  };
}

describe('which audit events are lifecycle events', () => {
  const scenarios: { name: string; input: Partial<AuditEventInput>; type: string; status: string }[] = [
    {
      name: 'a submission waiting for approval',
      input: { action: AuditAction.RequestSubmitted, detail: { approvalType: 'manual' } },
      type: 'submitted',
      status: 'pending',
    },
    {
      name: 'a submission approved by policy at once',
      input: { action: AuditAction.RequestSubmitted, detail: { approvalType: 'auto' } },
      type: 'submitted',
      status: 'approved',
    },
    {
      name: 'the decision to approve',
      input: { action: AuditAction.RequestApproved },
      type: 'approved',
      status: 'approved',
    },
    { name: 'a denial', input: { action: AuditAction.RequestDenied }, type: 'denied', status: 'denied' },
    {
      name: 'a cancellation',
      input: { action: AuditAction.RequestCanceled },
      type: 'canceled',
      status: 'canceled',
    },
    {
      name: 'no decision in time',
      input: { action: AuditAction.RequestExpired, actor: SYSTEM_ACTOR },
      type: 'expired',
      status: 'expired',
    },
    {
      name: 'the grant going live',
      input: { action: AuditAction.GrantStarted },
      type: 'granted',
      status: 'approved',
    },
    {
      name: 'the grant running out',
      input: { action: AuditAction.GrantEnded, actor: SYSTEM_ACTOR },
      type: 'ended',
      status: 'ended',
    },
    { name: 'a revoke', input: { action: AuditAction.GrantRevoked }, type: 'revoked', status: 'revoked' },
    {
      name: 'the next stage opening',
      input: { action: AuditAction.StageOpened, detail: { stage: 1, approverGroup: 'ciso' } },
      type: 'stage.opened',
      status: 'pending',
    },
    {
      name: 'an extension asked for',
      input: { action: AuditAction.ExtensionRequested, detail: { extensionId: '1', hours: 2 } },
      type: 'extension.requested',
      status: 'approved',
    },
    {
      name: 'an extension approved',
      input: { action: AuditAction.ExtensionApproved, detail: { extensionId: '1', hours: 2 } },
      type: 'extended',
      status: 'approved',
    },
    {
      name: 'an extension denied',
      input: { action: AuditAction.ExtensionDenied, detail: { extensionId: '2', hours: 2 } },
      type: 'extension.denied',
      status: 'approved',
    },
    {
      name: 'an extension undecided in time while the grant runs',
      input: { action: AuditAction.ExtensionExpired, actor: SYSTEM_ACTOR, detail: { extensionId: '1' } },
      type: 'extension.expired',
      status: 'approved',
    },
    {
      name: 'an extension that expired with its grant',
      input: {
        action: AuditAction.ExtensionExpired,
        actor: SYSTEM_ACTOR,
        detail: { extensionId: '1', status: 'ended' },
      },
      type: 'extension.expired',
      status: 'ended',
    },
    {
      name: 'an extension withdrawn',
      input: { action: AuditAction.ExtensionCanceled, detail: { extensionId: '1' } },
      type: 'extension.canceled',
      status: 'approved',
    },
    {
      name: 'an emergency submission, granted at once whatever the approval type',
      input: { action: AuditAction.RequestSubmitted, detail: { approvalType: 'manual', emergency: true } },
      type: 'submitted',
      status: 'approved',
    },
    {
      name: 'an emergency use',
      input: { action: AuditAction.EmergencyUsed },
      type: 'emergency.used',
      status: 'approved',
    },
    {
      name: 'the review of an emergency use whose grant has ended',
      input: { action: AuditAction.EmergencyReviewed, detail: { outcome: 'justified', status: 'ended' } },
      type: 'review.closed',
      status: 'ended',
    },
    {
      name: 'a successful execution',
      input: { action: AuditAction.ExecutionSucceeded, detail: { executionId: 'exec-1' } },
      type: 'execution.succeeded',
      status: 'succeeded',
    },
    {
      name: 'a failed execution',
      input: { action: AuditAction.ExecutionFailed, reason: 'HTTP 500', detail: { executionId: 'exec-2' } },
      type: 'execution.failed',
      status: 'failed',
    },
  ];

  it.each(scenarios)('$name → $type, status $status', ({ input, type, status }) => {
    // Act
    const event = lifecycleEventOf(anAuditEvent(input), 'req-1:x', AT);

    // Assess
    expect(event).toMatchObject({ type, status, id: 'req-1:x', requestId: 'req-1', at: AT.toISOString() });
  });

  it.each([
    AuditAction.StageApproved,
    AuditAction.GrantScheduled,
    AuditAction.UseCounted,
    AuditAction.ExtensionApprovalRecorded,
    AuditAction.ExtensionStageApproved,
    AuditAction.RequestApprovalRecorded,
    AuditAction.RequestRefused,
    AuditAction.DecisionRefused,
    AuditAction.ExecutionStarted,
    AuditAction.ExecutionRefused,
    AuditAction.PolicyCreated,
    AuditAction.NotificationSent,
  ])('%s is not an event', (action) => {
    // Act
    const event = lifecycleEventOf(anAuditEvent({ action }), 'id', AT);

    // Assess
    expect(event).toBeUndefined();
  });

  it.each([
    {
      name: 'a stage opening names the stage',
      action: AuditAction.StageOpened,
      detail: { stage: 2 },
      has: { stage: 2 },
    },
    {
      name: 'an extension event names the extension',
      action: AuditAction.ExtensionApproved,
      detail: { extensionId: '3', hours: 1, comment: 'secret words' },
      has: { extensionId: '3' },
    },
    {
      name: 'a grant whose window passed ended as expired',
      action: AuditAction.GrantEnded,
      detail: { expiresAt: AT.toISOString() },
      has: { endReason: 'expired' },
    },
    {
      name: 'a counted grant whose last use ran ended as uses exhausted',
      action: AuditAction.GrantEnded,
      reason: 'uses exhausted',
      detail: { uses: 3, maxUses: 3 },
      has: { endReason: 'uses exhausted' },
    },
  ])('$name', ({ action, detail, has, ...rest }) => {
    // Act
    const reason = 'reason' in rest ? rest.reason : undefined;
    const event = lifecycleEventOf(anAuditEvent({ action, detail, reason }), 'req-1:x', AT);

    // Assess: the field, and never a comment.
    expect(event).toMatchObject(has);
    expect(JSON.stringify(event)).not.toContain('secret');
  });

  it('classifies every catalogued audit action, one way or the other', () => {
    // Act
    const unclassified = Object.values(AuditAction).filter(
      (a) => EVENT_ACTIONS.includes(a) === NOT_EVENTS.includes(a),
    );

    // Assess: a new action must be added to the events or to NOT_EVENTS, deliberately.
    expect(unclassified).toEqual([]);
  });
});

describe('what an event says', () => {
  it('says who, what and which request, and nothing else: no reason, comment, parameters, origin or roles', () => {
    // Prepare
    const submitted = anAuditEvent({
      action: AuditAction.RequestSubmitted,
      reason: 'migrate mailbox bob@contoso.com',
      detail: {
        approvalType: 'manual',
        target: { scope: 'task', name: 'Exchange\\New-MoveRequest' },
        reason: 'ticket text',
        ticket: 'INC-1',
        parameters: { password: 'hunter2', mailbox: 'bob' },
        comment: 'see https://zsa.contoso.com/api/decisions/req-1.secret',
      },
    });

    // Act
    const event = lifecycleEventOf(submitted, 'req-1:request.submitted', AT);
    const text = JSON.stringify(toEventMessage(LifecycleEvent.parse(event)));

    // Assess
    expect(event).toEqual({
      schema: 'zsa.event',
      version: 1,
      id: 'req-1:request.submitted',
      type: 'submitted',
      requestId: 'req-1',
      at: '2030-05-01T09:00:00.000Z',
      actor: { kind: 'user', id: 'tid:oid-ann', upn: 'ann@contoso.com' },
      task: 'Exchange\\New-MoveRequest',
      status: 'pending',
    });
    for (const leak of ['hunter2', 'bob', 'decisions', 'INC-1', 'ticket text', '10.0.0.1', 'PAM.Admin']) {
      expect(text).not.toContain(leak);
    }
  });

  it('names the role of a role request: from its submission, and from a lookup for later events', () => {
    // Prepare
    const role = { scope: 'role', name: 'Exchange Admin' } as const;
    const submitted = anAuditEvent({
      action: AuditAction.RequestSubmitted,
      task: undefined,
      detail: { target: role, approvalType: 'manual' },
    });
    const approved = anAuditEvent({ action: AuditAction.RequestApproved, task: undefined });

    // Act
    const first = lifecycleEventOf(submitted, 'a', AT);
    const later = lifecycleEventOf(approved, 'b', AT, role);

    // Assess
    expect(needsTargetLookup(submitted)).toBe(false);
    expect(needsTargetLookup(approved)).toBe(true);
    expect(first).toMatchObject({ role: 'Exchange Admin' });
    expect(first).not.toHaveProperty('task');
    expect(later).toMatchObject({ role: 'Exchange Admin', type: 'approved' });
  });

  it('refuses to build an event that names no target (a lookup the caller skipped)', () => {
    // Act
    const build = () =>
      lifecycleEventOf(anAuditEvent({ action: AuditAction.GrantEnded, task: undefined }), 'x', AT);

    // Assess
    expect(build).toThrow(/exactly one of task, role or roleGroup/);
  });

  it('gives an execution its task and execution id, and a null request when it ran under none', () => {
    // Act
    const event = lifecycleEventOf(
      anAuditEvent({
        action: AuditAction.ExecutionSucceeded,
        requestId: undefined,
        task: 'Exchange\\Get-Mailbox',
        detail: { executionId: 'exec-9' },
      }),
      'a1b2',
      AT,
    );

    // Assess
    expect(event).toMatchObject({
      type: 'execution.succeeded',
      requestId: null,
      task: 'Exchange\\Get-Mailbox',
      executionId: 'exec-9',
      status: 'succeeded',
    });
  });

  it('travels with the event id as messageId and its type as subject, filterable without the body', () => {
    // Prepare
    const event = LifecycleEvent.parse(
      lifecycleEventOf(anAuditEvent({ action: AuditAction.GrantRevoked }), 'req-1:grant.revoked', AT),
    );

    // Act
    const message = toEventMessage(event);

    // Assess
    expect(message).toMatchObject({
      messageId: 'req-1:grant.revoked',
      subject: 'revoked',
      contentType: 'application/json',
      applicationProperties: { type: 'revoked', status: 'revoked', requestId: 'req-1' },
    });
  });
});
