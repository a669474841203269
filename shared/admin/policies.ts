/** Access policies (docs/design.md §1): who approves what, how many times, for how long. */
import { randomUUID } from 'node:crypto';
import { AuditAction } from '#shared/audit/types';
import { describeTarget } from '#shared/domain/catalog';
import { DomainError, type FieldError } from '#shared/domain/errors';
import {
  assertPolicyWindows,
  newPolicy,
  policyTarget,
  type Policy,
  type PolicyBody,
} from '#shared/domain/policy';
import { getApproverGroup } from './approver-group-repository';
import { getCatalogEntry } from './catalog-repository';
import { auditChange, type AdminContext } from './context';
import { getPolicy, insertPolicy, removePolicy, replacePolicy } from './policy-repository';

export function policyNotFound(id: string): DomainError {
  return new DomainError('NOT_FOUND', `There is no policy with id ${id}`);
}

/**
 * A policy must point at things that exist: its target in the catalog and, when it names one, its
 * approver group. A manual policy without a group is fine: it falls back to the default approver
 * group when a request is planned (`planRequest`), which refuses it if there is none then.
 */
async function assertPolicyValid(ctx: AdminContext, policy: Policy): Promise<void> {
  assertPolicyWindows(policy, ctx.minDurationSeconds);
  // Every group the policy names, with where it is named: its one group, or each stage's.
  const named: { pointer: string; group: string }[] =
    policy.stages !== undefined
      ? policy.stages.map((s, i) => ({ pointer: `#/stages/${i}/approverGroup`, group: s.approverGroup }))
      : policy.approverGroup === undefined
        ? []
        : [{ pointer: '#/approverGroup', group: policy.approverGroup }];
  if (policy.breakGlassGroup !== undefined)
    named.push({ pointer: '#/breakGlassGroup', group: policy.breakGlassGroup });
  const [entry, ...groups] = await Promise.all([
    getCatalogEntry(ctx.tables, policy.scope, policy.target),
    ...named.map((n) => getApproverGroup(ctx.tables, n.group)),
  ]);
  const errors: FieldError[] = [];
  if (entry === undefined)
    errors.push({
      pointer: '#/target',
      detail: `the catalog has no ${describeTarget(policyTarget(policy))}`,
    });
  named.forEach((n, i) => {
    if (groups[i] === undefined)
      errors.push({ pointer: n.pointer, detail: `no approver group is named ${JSON.stringify(n.group)}` });
  });
  if (errors.length > 0)
    throw new DomainError('INVALID_INPUT', `Invalid policy: ${errors.map((e) => e.detail).join('; ')}`, {
      errors,
    });
}

/**
 * An agents policy's sponsors, resolved to stable keys (`agents.sponsorIds`) as approver group
 * members are when saved: the decision rule refuses a sponsor approving their agent's request by key.
 * A UPN the directory does not know is refused (INVALID_INPUT); an unreachable directory is a 503.
 */
async function withSponsorIds(ctx: AdminContext, policy: Policy): Promise<Policy> {
  const sponsors = Object.entries(policy.agents?.sponsors ?? {});
  if (policy.agents === undefined) return policy;
  const { sponsorIds: _sent, ...agents } = policy.agents;
  if (sponsors.length === 0) return { ...policy, agents };
  const members = await ctx.directory.resolve(
    sponsors.map(([, upn]) => upn),
    '#/agents/sponsors',
  );
  const sponsorIds = Object.fromEntries(
    sponsors.flatMap(([agent], i) => {
      const id = members[i]?.id;
      return id == null ? [] : [[agent, id]];
    }),
  );
  return { ...policy, agents: { ...agents, sponsorIds } };
}

/** `POST /api/policies`: 409 when the scope and target already have a policy. */
export async function createPolicy(ctx: AdminContext, body: PolicyBody): Promise<Policy> {
  const policy = await withSponsorIds(ctx, newPolicy(randomUUID(), body));
  await assertPolicyValid(ctx, policy);
  await insertPolicy(ctx.tables, policy);
  await auditChange(ctx, AuditAction.PolicyCreated, { before: null, after: policy });
  return policy;
}

/** `PUT /api/policies/{id}`: replaces the whole policy (scope and target may change; 409 if taken). */
export async function updatePolicy(ctx: AdminContext, id: string, body: PolicyBody): Promise<Policy> {
  if ((await getPolicy(ctx.tables, id)) === undefined) throw policyNotFound(id);
  const policy = await withSponsorIds(ctx, newPolicy(id, body));
  await assertPolicyValid(ctx, policy);
  const { before, after } = await replacePolicy(ctx.tables, id, () => policy);
  await auditChange(ctx, AuditAction.PolicyUpdated, { before, after });
  return after;
}

/** `DELETE /api/policies/{id}`. */
export async function deletePolicy(ctx: AdminContext, id: string): Promise<void> {
  const before = await removePolicy(ctx.tables, id);
  if (before === undefined) throw policyNotFound(id);
  await auditChange(ctx, AuditAction.PolicyDeleted, { before, after: null });
}
