/** Enabling and disabling privileged access (docs/design.md §1). */
import { AuditAction } from '#shared/audit/types';
import { DomainError } from '#shared/domain/errors';
import { disablePam, enablePam, type EnablePamBody, type PamConfig } from '#shared/domain/pam';
import { getApproverGroup } from './approver-group-repository';
import { auditChange, type AdminContext } from './context';
import { changePamConfig } from './pam-repository';

/** `POST /api/pam/enable`: on, with a default approver group that must exist, and the system accounts. */
export async function enablePrivilegedAccess(ctx: AdminContext, body: EnablePamBody): Promise<PamConfig> {
  if ((await getApproverGroup(ctx.tables, body.defaultApproverGroup)) === undefined)
    throw new DomainError(
      'INVALID_INPUT',
      `There is no approver group named ${JSON.stringify(body.defaultApproverGroup)}; create it first (PUT /api/approver-groups/{name})`,
      { errors: [{ pointer: '#/defaultApproverGroup', detail: 'no approver group has this name' }] },
    );
  const systemAccounts = await ctx.directory.resolve(body.systemAccounts, '#/systemAccounts');
  const { before, after } = await changePamConfig(ctx.tables, () =>
    enablePam(body, systemAccounts, ctx.actor.upn, ctx.now),
  );
  await auditChange(ctx, AuditAction.PamEnabled, { before, after });
  return after;
}

/** `POST /api/pam/disable`: off; the default group, system accounts, groups and policies stay as they are. */
export async function disablePrivilegedAccess(ctx: AdminContext): Promise<PamConfig> {
  const { before, after } = await changePamConfig(ctx.tables, (current) =>
    disablePam(current, ctx.actor.upn, ctx.now),
  );
  await auditChange(ctx, AuditAction.PamDisabled, { before, after });
  return after;
}
