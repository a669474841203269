import { z } from 'zod';
import { compareNames, describeTarget, type Catalog, Scope, ScopeSchema, type Target } from './catalog';
import { DomainError } from './errors';
import { ApproverGroupName, CatalogName, Id } from './names';
import { Hours, hoursToSeconds } from './time';

export const ApprovalType = {
  manual: 'manual',
  auto: 'auto',
} as const;
export type ApprovalType = (typeof ApprovalType)[keyof typeof ApprovalType];
export const ApprovalTypeSchema = z.enum(ApprovalType);

export const MAX_REQUIRED_APPROVALS = 10;

const policyShape = {
  scope: ScopeSchema,
  target: CatalogName,
  approvalType: ApprovalTypeSchema,
  /** Falls back to the configured default approver group when absent. */
  approverGroup: ApproverGroupName.optional(),
  requiredApprovals: z.int().min(1).max(MAX_REQUIRED_APPROVALS).default(1),
  /** No maximum beyond `MAX_HOURS` when absent. */
  maxDurationHours: Hours.optional(),
  /** How long a request may wait for a decision before it expires. */
  pendingTimeoutHours: Hours.default(24),
};

/** Body of `POST /api/policies` and `PUT /api/policies/{id}` (defaults applied on parse). */
export const PolicyBody = z.strictObject(policyShape);
export type PolicyBody = z.output<typeof PolicyBody>;
export type PolicyInput = z.input<typeof PolicyBody>;

/** A stored policy: the body with its defaults applied, plus its id. */
export const Policy = z.strictObject({
  id: Id,
  ...policyShape,
  requiredApprovals: z.int().min(1).max(MAX_REQUIRED_APPROVALS),
  pendingTimeoutHours: Hours,
});
export type Policy = z.output<typeof Policy>;

export function newPolicy(id: string, body: PolicyBody): Policy {
  return { id, ...body };
}

export function policyTarget(policy: Pick<Policy, 'scope' | 'target'>): Target {
  return { scope: policy.scope, name: policy.target };
}

/**
 * Refuses policy windows shorter than the configured minimum (`ZSA_MIN_DURATION_SECONDS`), at
 * creation rather than at request time, so a requester never pays for an admin's typo.
 */
export function assertPolicyWindows(
  policy: Pick<Policy, 'maxDurationHours' | 'pendingTimeoutHours'>,
  minDurationSeconds: number,
): void {
  const short = (field: string, hours: number) =>
    new DomainError(
      'DURATION_TOO_SHORT',
      `${field} is ${hours} hours (${hoursToSeconds(hours)} s); the minimum is ${minDurationSeconds} s`,
      { errors: [{ pointer: `#/${field}`, detail: `must be at least ${minDurationSeconds} seconds` }] },
    );
  if (policy.maxDurationHours !== undefined && hoursToSeconds(policy.maxDurationHours) < minDurationSeconds)
    throw short('maxDurationHours', policy.maxDurationHours);
  if (hoursToSeconds(policy.pendingTimeoutHours) < minDurationSeconds)
    throw short('pendingTimeoutHours', policy.pendingTimeoutHours);
}

/**
 * Orders policies strictest first: manual before auto, then more required approvals, then the
 * shorter maximum grant (none = longest), then the shorter pending window, then by target name
 * and id so the choice never depends on storage order.
 */
export function compareStrictness(a: Policy, b: Policy): number {
  const manual = (p: Policy) => (p.approvalType === 'manual' ? 0 : 1);
  const maxGrant = (p: Policy) => p.maxDurationHours ?? Number.POSITIVE_INFINITY;
  return (
    manual(a) - manual(b) ||
    b.requiredApprovals - a.requiredApprovals ||
    Math.sign(maxGrant(a) - maxGrant(b)) ||
    Math.sign(a.pendingTimeoutHours - b.pendingTimeoutHours) ||
    compareNames(a.target, b.target) ||
    compareNames(a.id, b.id)
  );
}

function strictestOf(policies: readonly Policy[]): Policy | undefined {
  return [...policies].sort(compareStrictness)[0];
}

/**
 * The policy that governs a request for `target`, or undefined when none does.
 *
 * The most specific level that has a policy wins: a task's own policy, else its roles' policies,
 * else its role groups' (the groups of any role that lists the task); a role's own policy, else
 * its role groups'; a role group's own only. When one level holds several (a task in two roles
 * that both have policies) the strictest wins (`compareStrictness`): the safe choice, since the
 * requester gets no more than every matching policy allows. Coverage flows from containers to
 * members; strictness flows back up: a role or role-group request is governed by the strictest of
 * its own (or inherited) policy and its members' own policies.
 */
export function resolvePolicy(
  target: Target,
  catalog: Catalog,
  policies: readonly Policy[],
): Policy | undefined {
  const policyOf = (scope: Scope, name: string) =>
    policies.filter((p) => p.scope === scope && p.target === name);
  const governing = governingPolicy(target, catalog, policyOf);
  if (target.scope === 'task' || governing === undefined) return governing;
  // A container never loosens its members: asking for a role (or role group) gets the strictest of
  // its governing policy and the policies its members have of their own, or an admin's manual
  // 2-approver policy on one task could be bypassed by requesting the role that lists it. Members'
  // policies only tighten: they never make an ungoverned container requestable.
  const memberRoles = target.scope === 'roleGroup' ? (catalog.roleGroup(target.name)?.roles ?? []) : [];
  const memberTasks =
    target.scope === 'role'
      ? (catalog.role(target.name)?.tasks ?? [])
      : memberRoles.flatMap((r) => catalog.role(r)?.tasks ?? []);
  return strictestOf([
    governing,
    ...memberRoles.flatMap((r) => policyOf('role', r)),
    ...memberTasks.flatMap((t) => policyOf('task', t)),
  ]);
}

function governingPolicy(
  target: Target,
  catalog: Catalog,
  policyOf: (scope: Scope, name: string) => Policy[],
): Policy | undefined {
  const own = strictestOf(policyOf(target.scope, target.name));
  if (own !== undefined || target.scope === 'roleGroup') return own;

  const roles =
    target.scope === 'role' ? [target.name] : catalog.rolesContainingTask(target.name).map((r) => r.name);
  if (target.scope === 'task') {
    const viaRole = strictestOf(roles.flatMap((r) => policyOf('role', r)));
    if (viaRole !== undefined) return viaRole;
  }
  const groups = new Set(roles.flatMap((r) => catalog.roleGroupsContainingRole(r).map((g) => g.name)));
  return strictestOf([...groups].flatMap((g) => policyOf('roleGroup', g)));
}

/** `resolvePolicy` that throws `NO_POLICY` (a 400: the requester asked for something nobody governs). */
export function requirePolicy(target: Target, catalog: Catalog, policies: readonly Policy[]): Policy {
  const policy = resolvePolicy(target, catalog, policies);
  if (policy === undefined)
    throw new DomainError(
      'NO_POLICY',
      `No access policy covers the ${describeTarget(target)}; ask an admin to add one`,
    );
  return policy;
}

/** Policies that name exactly this target: a catalog entry they use may not be deleted (409). */
export function policiesTargeting(target: Target, policies: readonly Policy[]): readonly Policy[] {
  return policies.filter((p) => p.scope === target.scope && p.target === target.name);
}

/** Policies that name this approver group: the group may not be deleted while any does (409). */
export function policiesUsingGroup(group: string, policies: readonly Policy[]): readonly Policy[] {
  return policies.filter((p) => p.approverGroup === group);
}
