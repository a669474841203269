/**
 * A stored-request builder for component tests: Alice's pending request for one task under a
 * 1-approval manual policy, created now and pending for an hour. Overrides shape the rest.
 */
import { randomUUID } from 'node:crypto';
import { DEV_TENANT_ID, devUserId } from '@zsa/local-host';
import type { AuditOrigin } from '#shared/audit/types';
import type { Principal } from '#shared/auth/index';
import { Request } from '#shared/domain/request';
import type { Caller } from '#shared/requests/context';

export const REQUESTER = 'alice@contoso.com';

/**
 * A user's stable key as the development issuer's tokens and directory give it: what
 * `Principal.id` is for that user signed in, and what a group member saved by that UPN resolves to.
 */
export function userKey(upn: string): string {
  return `${DEV_TENANT_ID}:${devUserId(upn)}`;
}

/** A signed-in user (bearer token, no role) as the request stories see them. */
export function callerOf(upn: string, origin: AuditOrigin = { correlationId: 'c1' }): Caller {
  const principal: Principal = {
    id: userKey(upn),
    upn,
    roles: [],
    isAdmin: false,
    isAuditor: false,
    authMethod: 'bearer',
    strength: { acrs: [], amr: [] },
  };
  return { principal, actor: { kind: 'user', id: principal.id, upn, roles: [] }, origin };
}

export function aPendingRequest(overrides: Partial<Request> = {}, now = new Date()): Request {
  return Request.parse({
    id: randomUUID(),
    requester: REQUESTER,
    requesterId: userKey(REQUESTER),
    task: 'Exchange\\New-MoveRequest',
    tasks: ['Exchange\\New-MoveRequest'],
    reason: 'INC-1',
    ticket: null,
    durationHours: 1,
    parameters: null,
    status: 'pending',
    policyId: 'p1',
    approvalType: 'manual',
    approverGroup: null,
    requiredApprovals: 1,
    approvals: [],
    clientRequestId: null,
    createdAt: now.toISOString(),
    pendingUntil: new Date(now.getTime() + 3_600_000).toISOString(),
    decidedAt: null,
    grantedAt: null,
    expiresAt: null,
    endedAt: null,
    endedBy: null,
    endReason: null,
    ...overrides,
  });
}
