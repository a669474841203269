import type { HttpRequest } from '@azure/functions';
import { requireRole, type Principal } from '#shared/auth/index';
import { getDeps } from '#shared/app/deps';
import type { AuditActor, AuditOrigin } from '#shared/audit/types';
import { clientIp } from './handler';

/** Who is calling (401 problem when nobody is). Every non-anonymous handler starts here. */
export function authenticate(request: HttpRequest): Promise<Principal> {
  return getDeps().authenticator.authenticate(request.headers);
}

/** 403 unless the caller is an admin. */
export function requireAdmin(principal: Principal): void {
  requireRole(principal, 'PAM.Admin');
}

/** 403 unless the caller may read everything (admin or auditor). */
export function requireReader(principal: Principal): void {
  requireRole(principal, 'PAM.Admin', 'PAM.Auditor');
}

export function auditActor(principal: Principal): AuditActor {
  return {
    kind: 'user',
    id: principal.id,
    upn: principal.upn,
    roles: principal.roles,
    tenantId: principal.tenantId,
  };
}

export function auditOrigin(request: HttpRequest, correlationId: string): AuditOrigin {
  return {
    correlationId,
    clientIp: clientIp(request),
    userAgent: request.headers.get('user-agent')?.slice(0, 256) ?? undefined,
  };
}
