/** Approver groups (docs/design.md §1): who may decide on requests. */
import { AuditAction } from '#shared/audit/types';
import { DomainError } from '#shared/domain/errors';
import type { ApproverGroup, ApproverGroupBody } from '#shared/domain/pam';
import { deleteApproverGroup, getApproverGroup, putApproverGroup } from './approver-group-repository';
import { auditChange, listed, type AdminContext } from './context';
import { getPamConfig } from './pam-repository';
import { policiesNamingGroup } from './policy-repository';

export function groupNotFound(name: string): DomainError {
  return new DomainError('NOT_FOUND', `There is no approver group named ${JSON.stringify(name)}`);
}

/** `PUT /api/approver-groups/{name}`: creates or replaces the group, members and all. */
export async function putGroup(
  ctx: AdminContext,
  name: string,
  body: ApproverGroupBody,
): Promise<{ group: ApproverGroup; created: boolean }> {
  // Resolved before anything is written: an unknown name is the admin's mistake (400), and an
  // unreachable directory leaves the stored group as it was (503).
  const members = await ctx.directory.resolve(body.members, '#/members');
  const group: ApproverGroup = { name, members, description: body.description ?? null };
  const before = await putApproverGroup(ctx.tables, group);
  await auditChange(ctx, AuditAction.ApproverGroupPut, { before, after: group });
  return { group, created: before === undefined };
}

/** `DELETE /api/approver-groups/{name}`: refused (409) while the PAM default or a policy names it. */
export async function deleteGroup(ctx: AdminContext, name: string): Promise<void> {
  if ((await getApproverGroup(ctx.tables, name)) === undefined) throw groupNotFound(name);
  const [config, policies] = await Promise.all([
    getPamConfig(ctx.tables),
    policiesNamingGroup(ctx.tables, name),
  ]);
  // Even while disabled: disabling keeps the default, and the configuration must never name a
  // group that does not exist.
  if (config.defaultApproverGroup === name)
    throw new DomainError(
      'CONFLICT',
      `Approver group ${JSON.stringify(name)} is the default approver group; enable privileged access with another default first`,
    );
  if (policies.length > 0)
    throw new DomainError(
      'CONFLICT',
      `Approver group ${JSON.stringify(name)} is used by ${policies.length} ${policies.length === 1 ? 'policy' : 'policies'} (${listed(policies.map((p) => p.id))}); change or delete them first`,
    );
  const before = await deleteApproverGroup(ctx.tables, name);
  if (before === undefined) throw groupNotFound(name);
  await auditChange(ctx, AuditAction.ApproverGroupDeleted, { before, after: null });
}
